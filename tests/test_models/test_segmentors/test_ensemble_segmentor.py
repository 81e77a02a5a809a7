"""EnsembleSegmentor: members load their checkpoints, outputs are fused."""
import os.path as osp
import re

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmseg_uda  # noqa: F401
from tests.reference.tiny_layouts import make_cityscapes
from tests.tool_runs import run_python

ENSEMBLE = 'configs/advent/deeplabv2_r101_advent_minent_ensemble_gta2cs.py'
TINY_MEMBER = '''
model = dict(
    type='UDAEncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[100., 110.,
                           120.], std=[50., 55., 60.], bgr_to_rgb=False,
                           size_divisor=1),
    backbone=dict(type='DeepLabV2ResNet', depth=18, stem_channels=8,
                  base_channels=8, style='pytorch', init_cfg=None),
    decode_head=dict(type='DeepLabV2Head', in_channels=64, in_index=1,
                     dilations=(1, 2), num_classes=19, align_corners=True,
                     loss_decode=dict(type='CrossEntropyLoss')),
    test_cfg=dict(mode='whole', logits_to_ori_shape=True))
'''


def _members(tmp_path):
    """A tiny member config and two checkpoints: plain and UDA-style."""
    config = osp.join(tmp_path, 'tiny_member.py')
    with open(config, 'w') as f:
        f.write(TINY_MEMBER)
    init_default_scope('mmseg')
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    segmentors, paths = [], []
    for seed, uda in ((0, False), (1, True)):
        torch.manual_seed(seed)
        seg = MODELS.build(cfg.model)
        seg.init_weights()
        state = seg.state_dict()
        if uda:  # as saved by a UDA run: segmentor.* + discriminators.*
            state = {f'segmentor.{k}': v for k, v in state.items()}
            state['discriminators.main.convs.0.weight'] = torch.ones(1)
        path = osp.join(tmp_path, f'member{seed}.pth')
        torch.save(dict(state_dict=state, meta=dict(iter=seed)), path)
        segmentors.append(seg.eval())
        paths.append(path)
    return config, segmentors, paths


@pytest.mark.parametrize('fuse', ['probs', 'logits'])
def test_ensemble_is_the_mean_of_its_members(tmp_path, fuse):
    config, segmentors, paths = _members(str(tmp_path))
    ensemble = MODELS.build(dict(
        type='EnsembleSegmentor', fuse=fuse,
        members=[dict(config=config, checkpoint=p) for p in paths])).eval()
    x = torch.randn(2, 3, 24, 40)

    def samples():  # predict writes into the samples: fresh ones per call
        return [SegDataSample(metainfo=dict(img_shape=(24, 40),
                                            ori_shape=(48, 80)))
                for _ in range(2)]

    with torch.no_grad():
        ours = ensemble.predict(x, samples())
        logits = [s.predict(x, samples()) for s in segmentors]
    for i, sample in enumerate(ours):
        per_member = [r[i].seg_logits.data for r in logits]
        if fuse == 'probs':
            per_member = [F.softmax(m, dim=0) for m in per_member]
        expected = (per_member[0] + per_member[1]) / 2
        assert sample.seg_logits.data.shape == (19, 48, 80)
        torch.testing.assert_close(sample.seg_logits.data, expected)
        torch.testing.assert_close(sample.pred_sem_seg.data[0],
                                   expected.argmax(dim=0))
    # the members really differ, so the fusion is not trivial
    assert not torch.allclose(logits[0][0].seg_logits.data,
                              logits[1][0].seg_logits.data)
    with pytest.raises(NotImplementedError):
        ensemble.loss(x, samples())


def test_ensemble_refusals(tmp_path):
    config, _, paths = _members(str(tmp_path))
    members = [dict(config=config, checkpoint=p) for p in paths]
    with pytest.raises(ValueError, match='fuse'):
        MODELS.build(dict(type='EnsembleSegmentor', members=members,
                          fuse='votes'))
    with pytest.raises(ValueError, match='weights'):
        MODELS.build(dict(type='EnsembleSegmentor', members=members,
                          weights=[1.0]))


def _run(repo_root, *args, ok=True):
    proc = run_python(args, repo_root=repo_root)
    out = proc.stdout + proc.stderr
    assert (proc.returncode == 0) == ok, out[-3000:]
    return out


@pytest.mark.slow
def test_tools_test_runs_the_ensemble_config(repo_root, tmp_path):
    tmp_path = str(tmp_path)
    config, _, paths = _members(tmp_path)
    cs = osp.join(tmp_path, 'cityscapes')
    make_cityscapes(cs)
    opts = [f'model.members.{i}.{k}={v}'
            for i, p in enumerate(paths)
            for k, v in (('config', config), ('checkpoint', p))]
    opts += [f'test_dataloader.dataset.data_root={cs}',
             'test_dataloader.dataset.pipeline.1.scale=(32,16)',
             'test_dataloader.num_workers=0',
             'test_dataloader.persistent_workers=False']
    out = _run(repo_root, 'tools/test.py', ENSEMBLE, '--work-dir',
               osp.join(tmp_path, 'work'), '--cfg-options', *opts)
    assert re.search(r'mIoU: \d+\.\d+', out)
    # a model that needs a checkpoint: a clear error without one
    out = _run(repo_root, 'tools/test.py',
               'configs/source_only/deeplabv2_r101_gta2cs.py', ok=False)
    assert 'CHECKPOINT is required' in out
