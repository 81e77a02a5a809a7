"""IntraDA stage-2 config: pinned settings, and 2 training iterations on
the files written by tools/rank_targets.py."""
import os.path as osp
import sys

import pytest
from mmengine.config import Config

from tests.reference.tiny_layouts import make_cityscapes
from tests.test_tools.test_rank_targets import TINY, rank, tiny_model
from tests.tool_runs import run, tool_env

CONFIG = 'configs/intrada/deeplabv2_r101_intrada_gta2cs.py'


def test_intrada_config_pins_the_paper(repo_root):
    cfg = Config.fromfile(osp.join(repo_root, CONFIG))
    assert cfg.rank_dir == 'work_dirs/intrada_rank'
    assert cfg.model.type == 'AdvEntUDASegmentor'
    assert cfg.model.adv_weights == dict(main=0.001, aux=0.0002)
    seg = cfg.model.segmentor
    assert seg.auxiliary_head.loss_decode.loss_weight == 0.1
    # from the ImageNet init, not from the stage-1 weights
    assert cfg.load_from is None
    assert seg.backbone.init_cfg.checkpoint == \
        'checkpoints/deeplabv2_r101_init.pth'
    src, tgt = (cfg.train_dataloader.dataset[k] for k in ('source', 'target'))
    assert cfg.train_dataloader.dataset.type == 'SourceTargetDataset'
    assert src.type == tgt.type == 'CityscapesDataset'
    assert src.ann_file == 'work_dirs/intrada_rank/easy_split.txt'
    assert src.data_prefix == dict(
        img_path='data/cityscapes/leftImg8bit/train',
        seg_map_path='work_dirs/intrada_rank/pseudo_labels')
    assert tgt.ann_file == 'work_dirs/intrada_rank/hard_split.txt'
    assert tgt.data_prefix == dict(
        img_path='data/cityscapes/leftImg8bit/train')
    for ds in (src, tgt):
        resize = [t for t in ds.pipeline if t['type'] == 'Resize'][0]
        assert resize.scale == (1024, 512) and not resize.keep_ratio
        assert resize.interpolation == 'bicubic'
    assert 'LoadAnnotations' in [t['type'] for t in src.pipeline]
    assert 'LoadAnnotations' not in [t['type'] for t in tgt.pipeline]
    assert cfg.train_dataloader.batch_size == 1
    seg_optim = cfg.optim_wrapper.segmentor
    assert seg_optim.optimizer == dict(type='SGD', lr=2.5e-4, momentum=0.9,
                                       weight_decay=5e-4)
    assert cfg.optim_wrapper.discriminators.optimizer == dict(
        type='Adam', lr=1e-4, betas=(0.9, 0.99))
    assert cfg.param_scheduler.segmentor[0].power == 0.9
    assert cfg.param_scheduler.segmentor[0].end == 250001
    assert cfg.train_cfg.max_iters == 120000
    # evaluated as ADVENT: Cityscapes val at 1024x512
    assert cfg.val_dataloader.dataset.data_prefix.img_path == \
        'leftImg8bit/val'


@pytest.mark.slow
def test_intrada_trains_on_the_ranking(repo_root, tmp_path):
    tmp = str(tmp_path)
    cs = osp.join(tmp, 'cityscapes')
    make_cityscapes(cs, split='train', num=5, size=(64, 128), seed=3)
    make_cityscapes(cs, split='val', num=2)
    ckpt = osp.join(tmp, 'stage1.pth')
    tiny_model(repo_root, ckpt)
    rank_dir = osp.join(tmp, 'rank')
    rank(repo_root, cs, ckpt, rank_dir)
    loader = 'train_dataloader'
    img_dir = osp.join(cs, 'leftImg8bit', 'train')
    opts = TINY + [
        f'{loader}.dataset.source.ann_file={rank_dir}/easy_split.txt',
        f'{loader}.dataset.source.data_prefix.img_path={img_dir}',
        f'{loader}.dataset.source.data_prefix.seg_map_path='
        f'{rank_dir}/pseudo_labels',
        f'{loader}.dataset.source.pipeline.2.scale=(64,32)',
        f'{loader}.dataset.target.ann_file={rank_dir}/hard_split.txt',
        f'{loader}.dataset.target.data_prefix.img_path={img_dir}',
        f'{loader}.dataset.target.pipeline.1.scale=(64,32)',
        f'{loader}.num_workers=0', f'{loader}.persistent_workers=False',
        'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1', 'randomness.seed=0']
    for loader in ('val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={cs}',
                 f'{loader}.dataset.pipeline.1.scale=(32,16)',
                 f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False']
    work = osp.join(tmp, 'intra')
    cmd = [sys.executable, 'tools/train.py', CONFIG, '--work-dir', work,
           '--cfg-options', *opts]
    proc = run(cmd, cwd=repo_root, env=tool_env(repo_root))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert 'src.main.loss_ce' in out and 'tgt.main.loss_adv' in out
    assert 'mIoU' in out
    assert osp.isfile(osp.join(work, 'iter_2.pth'))
