"""TargetSetLoop: the pseudo-label job of a training run's model on
mmengine's test loop, BDL's labels computed by hand, state restored,
completion, resume and stale outputs."""
import os
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.runner import Runner
from mmseg.registry import LOOPS

from mmseg_uda.datasets.pseudo_label_dir import PseudoLabelDir
from mmseg_uda.datasets.target_set import ranking_dataset_cfg
from tests.reference.bdl_ssl import bdl_pseudo_labels
from tests.reference.tiny_layouts import make_cityscapes
from tests.test_tools.test_rank_targets import main_logits, tiny_model

SIZE = (64, 32)  # (w, h) labelling size


@pytest.fixture(scope='module')
def setup(repo_root, tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp('pl_job'))
    cs = osp.join(tmp, 'cityscapes')
    make_cityscapes(cs, split='train', num=5, size=(64, 128), seed=7)
    cfg, model = tiny_model(repo_root, osp.join(tmp, 'model.pth'))
    cfg.train_dataloader.dataset.target.data_root = cs
    cfg.test_dataloader.dataset.pipeline[1].scale = SIZE
    runner = Runner(model=model, work_dir=osp.join(tmp, 'work'),
                    default_scope='mmseg', log_level='WARNING')
    return dict(tmp=tmp, cs=cs, cfg=cfg, model=model, runner=runner,
                dataset=ranking_dataset_cfg(cfg))


def generate_pseudo_labels(runner, dataset, out_dir, rule, batch_size=1,
                           model_id=None):
    """One pseudo-label job on the loop, as a training run's hook builds it;
    the summary it wrote."""
    loop = LOOPS.build(
        dict(type='TargetSetLoop',
             dataloader=dict(
                 batch_size=batch_size, num_workers=0,
                 sampler=dict(type='DefaultSampler', shuffle=False),
                 collate_fn=dict(type='pseudo_collate'), dataset=dataset),
             evaluator=dict(type='PseudoLabelGenerator', out_dir=out_dir,
                            model_id=model_id, **rule),
             call_hooks=False),
        default_args=dict(runner=runner))
    metrics = loop.run()
    summary = PseudoLabelDir(out_dir).read_summary()
    assert metrics['pseudo_label/num_images'] == summary['num_images']
    return summary


def probabilities_by_hand(model, cfg, img_path):
    with torch.no_grad():
        logits = main_logits(model, cfg, img_path, SIZE)
        prob = F.interpolate(logits.softmax(1), size=(SIZE[1], SIZE[0]),
                             mode='bilinear', align_corners=True)[0]
    return prob.numpy()


def test_bdl_labels_of_a_model(setup):
    model, out = setup['model'], osp.join(setup['tmp'], 'bdl')
    model.train()
    seg_cfg = model.segmentor.test_cfg
    summary = generate_pseudo_labels(setup['runner'], setup['dataset'], out,
                                     dict(rule='bdl'), batch_size=1)
    assert model.training and model.segmentor.test_cfg is seg_cfg
    assert not seg_cfg.get('probs_to_ori_shape', False)
    model.eval()
    img_dir = osp.join(setup['cs'], 'leftImg8bit', 'train', 'tiny')
    files = sorted(os.listdir(img_dir))
    names = [f'tiny/{f[:-len("_leftImg8bit.png")]}' for f in files]
    probs = [probabilities_by_hand(model, setup['cfg'],
                                   osp.join(img_dir, f)) for f in files]
    labels, thres = bdl_pseudo_labels(probs, 19)
    assert summary['thresholds'] == thres.tolist()
    assert summary['num_images'] == 5
    for name, expected in zip(names, labels):
        got = cv2.imread(PseudoLabelDir(out).label_path(name),
                         cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(got, expected)
    assert 0 < summary['labelled_fraction'] < 1
    assert not osp.exists(PseudoLabelDir(out).cache_dir())


def test_complete_dir_returns_without_running(setup, monkeypatch):
    out = osp.join(setup['tmp'], 'argmax')
    first = generate_pseudo_labels(setup['runner'], setup['dataset'], out,
                                   dict(rule='argmax'))
    assert first['labelled_fraction'] == 1.0

    def fail(*args, **kwargs):
        raise AssertionError('the network ran again')

    monkeypatch.setattr(setup['model'], 'test_step', fail)
    assert generate_pseudo_labels(setup['runner'], setup['dataset'], out,
                                  dict(rule='argmax')) == first
    with pytest.raises(AssertionError, match='ran again'):  # new settings
        generate_pseudo_labels(setup['runner'], setup['dataset'], out,
                               dict(rule='fixed', threshold=0.5))


def test_resume_runs_only_the_missing_images(setup, monkeypatch):
    out = osp.join(setup['tmp'], 'resume')
    full = generate_pseudo_labels(setup['runner'], setup['dataset'], out,
                                  dict(rule='bdl', keep_cache=True),
                                  batch_size=2)
    cached = osp.join(PseudoLabelDir(out).cache_dir(), 'images', 'tiny')
    for name in sorted(os.listdir(cached))[::2]:
        os.remove(osp.join(cached, name))
    os.remove(osp.join(out, 'pseudo_labels.json'))
    seen = []
    step = setup['model'].test_step

    def counting(batch):
        seen.extend(s.img_path for s in batch['data_samples'])
        return step(batch)

    monkeypatch.setattr(setup['model'], 'test_step', counting)
    again = generate_pseudo_labels(setup['runner'], setup['dataset'], out,
                                   dict(rule='bdl', keep_cache=True),
                                   batch_size=2)
    assert len(seen) == 3
    assert again == full


def test_another_model_replaces_the_labels(setup, monkeypatch):
    out = osp.join(setup['tmp'], 'models')
    generate_pseudo_labels(setup['runner'], setup['dataset'], out,
                           dict(rule='argmax'), model_id='a')
    # the same model again reuses every label; another one replaces them
    step, seen = setup['model'].test_step, []

    def counting(batch):
        seen.extend(s.img_path for s in batch['data_samples'])
        return step(batch)

    monkeypatch.setattr(setup['model'], 'test_step', counting)
    again = generate_pseudo_labels(setup['runner'], setup['dataset'], out,
                                   dict(rule='argmax'), model_id='a')
    assert seen == [] and again['settings']['model'] == 'a'
    summary = generate_pseudo_labels(setup['runner'], setup['dataset'], out,
                                     dict(rule='argmax'), model_id='b')
    assert len(seen) == 5 and summary['settings']['model'] == 'b'


def test_needs_a_uda_encoder_decoder(setup):
    runner = SimpleNamespace(model=torch.nn.Conv2d(3, 3, 1))
    with pytest.raises(TypeError, match='UDAEncoderDecoder'):
        generate_pseudo_labels(runner, setup['dataset'],
                               osp.join(setup['tmp'], 'x'), dict(rule='bdl'))
    assert not osp.exists(osp.join(setup['tmp'], 'x'))
