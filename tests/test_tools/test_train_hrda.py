"""tools/train.py and tools/test.py on the shipped HRDA and MIC(HRDA) configs,
shrunk to a tiny MiT on tiny data: HRDA's two scales, detail crop, sliding
pseudo-label windows, loader-side pseudo-label margins, feature distance and
rare class sampling all run; the test slides batched windows over the whole
image; MIC(HRDA) resumed from its checkpoint of iteration 2 gives at
iteration 3 the weights of the uninterrupted run."""
import json
import os
import os.path as osp
import re
import shutil

import pytest
import torch
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from tests.test_tools.test_train_adaptseg import _layout, _load, _train
from tests.tool_runs import run_python
from tools.dataset_converters.class_stats import main as class_stats_main

pytestmark = pytest.mark.slow

HRDA = 'configs/hrda/hrda_mitb5_gta2cs.py'
MIC_HRDA = 'configs/mic/mic_hrda_mitb5_gta2cs.py'
# tiny labels: RCS's min_pixels scaled down so every class keeps an image
RCS_MIN_PIXELS = 60
# HRDA's sizes over 16: 64x64 crops of 72x128 / 64x128 images, a 32x32
# detail crop (offsets divisible by 8), 64x64 test windows at stride 32
CROP, HR_CROP, TEST_WINDOW = 64, 32, 64
MARGINS = [2, 16, 2, 2]  # HRDA's [30, 240, 30, 30] about / 16
THIS_MODULE = 'tests.test_tools.test_train_hrda'


@HOOKS.register_module()
class BackboneInputsHook(Hook):
    """Writes the shapes of the backbone's inputs during a test run to
    ``work_dir/backbone_inputs.json`` (which path inference took)."""

    def before_test(self, runner) -> None:
        model = runner.model
        segmentor = getattr(model, 'segmentor', model)
        self.shapes = []
        self.handle = segmentor.backbone.register_forward_pre_hook(
            lambda module, args: self.shapes.append(list(args[0].shape)))

    def after_test(self, runner) -> None:
        self.handle.remove()
        with open(osp.join(runner.work_dir, 'backbone_inputs.json'),
                  'w') as f:
            json.dump(self.shapes, f)


def _options(tmp_path, max_iters):
    gta, cs = (osp.join(tmp_path, 'gta'), osp.join(tmp_path, 'cityscapes'))
    if not osp.isdir(gta):
        _layout(tmp_path)
        assert class_stats_main([gta, '--nproc', '1']) == 0
    loader, seg = 'train_dataloader', 'model.segmentor'
    opts = [
        f'{loader}.dataset.source.data_root={gta}',
        f'{loader}.dataset.source.pipeline.2.scale=(128,72)',
        f'{loader}.dataset.source.pipeline.3.crop_size=({CROP},{CROP})',
        f'{loader}.dataset.target.data_root={cs}',
        f'{loader}.dataset.target.pipeline.1.scale=(128,64)',
        f'{loader}.dataset.target.pipeline.3.margins={MARGINS}',
        f'{loader}.dataset.target.pipeline.4.crop_size=({CROP},{CROP})',
        # one worker, as HRDA's configs: the main process's numpy generator
        # then serves the model alone (HRDA's detail crop), and
        # RandomStateHook continues it on --resume
        f'{loader}.persistent_workers=False',
        f'{seg}.data_preprocessor.size=({CROP},{CROP})',
        f'{seg}.hr_crop_size=({HR_CROP},{HR_CROP})',
        f'{seg}.test_cfg.crop_size=({TEST_WINDOW},{TEST_WINDOW})',
        f'{seg}.test_cfg.stride=({TEST_WINDOW // 2},{TEST_WINDOW // 2})',
        # a tiny MiT: one layer and one head per stage, 8 channels
        f'{seg}.backbone.init_cfg=None', f'{seg}.backbone.embed_dims=8',
        f'{seg}.backbone.num_layers=[1,1,1,1]',
        f'{seg}.backbone.num_heads=[1,1,1,1]',
        f'{seg}.decode_head.in_channels=[8,8,8,8]',
        f'{seg}.decode_head.channels=16',
        f'{seg}.decode_head.decoder_params.embed_dims=16',
        f'{seg}.decode_head.attention_embed_dim=16',
        f'{loader}.dataset.rare_class_sampling.min_pixels={RCS_MIN_PIXELS}',
        # 16x16 MIC blocks on the 64x64 crops (MIC: 64x64 on 1024x1024)
        'model.mask_consistency.mask_generator.mask_block_size=16',
        f'train_cfg.max_iters={max_iters}', 'train_cfg.val_interval=100',
        'default_hooks.checkpoint.interval=1',
        'default_hooks.logger.interval=1',
    ]
    for loader in ('val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={cs}',
                 f'{loader}.dataset.pipeline.1.scale=(128,64)',
                 f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False']
    return opts


def _hrda_options(tmp_path, max_iters):
    """The options without MIC's (the HRDA config has no MIC)."""
    return [o for o in _options(tmp_path, max_iters)
            if not o.startswith('model.mask_consistency')]


def _test(repo_root, tmp_path, config, checkpoint, options):
    """tools/test.py on ``config`` with :class:`BackboneInputsHook`;
    returns the backbone's input shapes."""
    work = osp.join(tmp_path, 'test')
    test_config = osp.join(tmp_path, 'test_config.py')
    with open(test_config, 'w') as f:
        f.write(f"_base_ = ['{osp.join(repo_root, config)}']\n"
                f"custom_imports = dict(imports=['mmseg_uda', "
                f"'{THIS_MODULE}'])\n"
                "custom_hooks = [dict(type='BackboneInputsHook')]\n")
    proc = run_python(
        ['tools/test.py', test_config, checkpoint, '--work-dir', work,
         '--cfg-options', *options], repo_root=repo_root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    out = proc.stdout + proc.stderr
    assert re.search(r'mIoU: \d+\.\d+', out), out[-3000:]
    with open(osp.join(work, 'backbone_inputs.json')) as f:
        return json.load(f)


def _assert_slide_inference(shapes):
    """Two val images of 64x128: 3 test windows of 64x64 at stride 32, run
    as one batch; in each, the context at scale 0.5 (32x32) and 3x3 detail
    windows of 32x32 at stride 16, run as one batch."""
    assert shapes == [[3, 3, 32, 32], [27, 3, 32, 32]] * 2, shapes


def test_hrda_trains_and_tests_with_slide_inference(repo_root, tmp_path):
    tmp_path = str(tmp_path)
    work = osp.join(tmp_path, 'work')
    opts = _hrda_options(tmp_path, 2)
    out = _train(repo_root, work, opts, config=HRDA)
    for name in ('src.main.loss_ce', 'src.hr.loss_ce',
                 'src.loss_imnet_feat_dist', 'mix.main.loss_ce',
                 'mix.hr.loss_ce', 'mix.pseudo_weight', 'RCS classes: ['):
        assert name in out, name
    assert 'masked.' not in out and 'src.lr.' not in out
    shapes = _test(repo_root, tmp_path, HRDA, osp.join(work, 'iter_2.pth'),
                   opts)
    _assert_slide_inference(shapes)


def test_mic_hrda_resume_equals_an_uninterrupted_run(repo_root, tmp_path):
    tmp_path = str(tmp_path)
    straight, split = (osp.join(tmp_path, n) for n in ('straight', 'split'))
    out = _train(repo_root, straight, _options(tmp_path, 3),
                 config=MIC_HRDA)
    for name in ('src.main.loss_ce', 'src.hr.loss_ce', 'mix.main.loss_ce',
                 'masked.main.loss_ce', 'masked.hr.loss_ce'):
        assert name in out, name
    # the checkpoint the run wrote after iteration 2, as a run killed
    # there leaves it
    os.makedirs(split)
    shutil.copy(osp.join(straight, 'iter_2.pth'), split)
    with open(osp.join(split, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(split, 'iter_2.pth'))
    out = _train(repo_root, split, _options(tmp_path, 3), '--resume',
                 config=MIC_HRDA)
    assert 'resumed epoch: 0, iter: 2' in out

    a, b = (_load(osp.join(d, 'iter_3.pth')) for d in (straight, split))
    assert a['meta']['iter'] == b['meta']['iter'] == 3
    assert set(a['state_dict']) == set(b['state_dict'])
    assert any(k.startswith('teacher.') for k in a['state_dict'])
    for key, value in a['state_dict'].items():
        torch.testing.assert_close(b['state_dict'][key], value, msg=key)

    shapes = _test(repo_root, tmp_path, MIC_HRDA,
                   osp.join(straight, 'iter_3.pth'), _options(tmp_path, 3))
    _assert_slide_inference(shapes)
