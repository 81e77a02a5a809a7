"""Tests of ``tools/dataset_converters/resize_cache.py``."""
import importlib.util
import json
import os
import os.path as osp

import cv2
import mmcv
import numpy as np
import pytest
from PIL import Image

from tests.reference.tiny_layouts import make_cityscapes, make_gta
from tests.tool_runs import run_python

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'dataset_converters', 'resize_cache.py')
MANIFEST = 'resize_cache.json'


def load_tool():
    spec = importlib.util.spec_from_file_location('resize_cache_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CONFIG = """
_base_ = [{base!r}]
source_root = {gta!r}
target_root = {cs!r}
source_scale = (64, 36)
target_scale = (48, 24)
source_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=source_scale, keep_ratio=False,
         interpolation='bicubic', backend='pillow'),
    dict(type='PackSegInputs'),
]
target_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=target_scale, keep_ratio=False,
         interpolation='bicubic', backend='pillow'),
    dict(type='PackSegInputs'),
]
source_train_dataset = dict(
    type='GTAVDataset', data_root=source_root,
    data_prefix=dict(img_path='images', seg_map_path='labels'),
    pipeline=source_train_pipeline)
target_train_dataset = dict(
    type='CityscapesDataset', data_root=target_root,
    data_prefix=dict(img_path='leftImg8bit/train'),
    pipeline=target_train_pipeline)
train_dataloader = dict(dataset=source_train_dataset)
uda_train_dataloader = dict(dataset=dict(
    source=source_train_dataset, target=target_train_dataset))
default_scope = 'mmseg'
"""


@pytest.fixture(scope='module')
def tool():
    return load_tool()


@pytest.fixture
def layout(tmp_path):
    gta, cs = str(tmp_path / 'gta'), str(tmp_path / 'cs')
    make_gta(gta, num=3, size=(52, 95))
    make_cityscapes(cs, split='train', num=2, size=(52, 95))
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(CONFIG.format(
        base=osp.join(REPO, 'configs', '_base_', 'datasets',
                      'gta2cityscapes.py'), gta=gta, cs=cs))
    return str(cfg), gta, cs, str(tmp_path / 'cache')


def read_manifest(out):
    with open(osp.join(out, MANIFEST)) as f:
        return json.load(f)


@pytest.mark.slow
def test_subprocess_end_to_end(layout):
    cfg, gta, _, out = layout
    proc = run_python([TOOL, cfg, out, '--nproc', '2'], repo_root=REPO,
                      timeout=300)
    assert proc.returncode == 0, proc.stderr
    manifest = read_manifest(out)
    assert manifest['scale'] == [64, 36]
    assert manifest['interpolation'] == 'bicubic'
    assert manifest['backend'] == 'pillow'
    assert manifest['labels'] is True
    assert manifest['num_samples'] == 3 and manifest['num_files'] == 6
    assert manifest['data_root'] == osp.abspath(gta)
    assert manifest['data_prefix'] == dict(img_path='images',
                                           seg_map_path='labels')
    assert manifest['sizes'] == {f'images/{i:05d}.png': [52, 95]
                                 for i in range(3)}
    assert not osp.exists(osp.join(out, '.resize_cache.partial.json'))
    for i in range(3):
        img = cv2.imread(osp.join(gta, 'images', f'{i:05d}.png'))
        cached = cv2.imread(osp.join(out, 'images', f'{i:05d}.png'))
        # Bicubic with PIL on the BGR array, as mmcv's Resize does.
        expected = np.array(Image.fromarray(img).resize(
            (64, 36), Image.BICUBIC))
        assert np.array_equal(cached, expected)
        label = cv2.imread(
            osp.join(gta, 'labels', f'{i:05d}_labelTrainIds.png'),
            cv2.IMREAD_UNCHANGED)
        cached = cv2.imread(
            osp.join(out, 'labels', f'{i:05d}_labelTrainIds.png'),
            cv2.IMREAD_UNCHANGED)
        assert cached.dtype == np.uint8
        assert np.array_equal(
            cached, np.array(Image.fromarray(label).resize(
                (64, 36), Image.NEAREST)))


def test_resumes_and_skips_finished_files(layout, tool, capsys):
    cfg, _, _, out = layout
    assert tool.main([cfg, out, '--nproc', '1']) == 0
    first = read_manifest(out)
    kept = osp.join(out, 'images', '00000.png')
    os.utime(kept, ns=(10**18, 10**18))
    # An interrupted run: one image missing, no manifest yet.
    os.remove(osp.join(out, 'images', '00002.png'))
    os.remove(osp.join(out, MANIFEST))
    capsys.readouterr()
    assert tool.main([cfg, out, '--nproc', '1']) == 0
    assert '2 files written, 4 already present' in capsys.readouterr().out
    assert os.stat(kept).st_mtime_ns == 10**18
    redone = cv2.imread(osp.join(out, 'images', '00002.png'))
    assert redone.shape == (36, 64, 3)
    assert read_manifest(out) == first
    # Other settings into the same directory are refused.
    code = tool.main([
        cfg, out, '--nproc', '1', '--cfg-options',
        'uda_train_dataloader.dataset.source.pipeline.2.scale=[32,18]'
    ])
    assert code == 1
    err = capsys.readouterr().err
    assert 'other settings' in err and out in err


def test_target_and_dotted_key(layout, tool):
    cfg, _, cs, out = layout
    assert tool.main([cfg, out, '--dataset', 'target', '--nproc', '1']) == 0
    manifest = read_manifest(out)
    assert manifest['labels'] is False and manifest['num_files'] == 2
    assert manifest['scale'] == [48, 24]
    names = sorted(manifest['sizes'])
    assert names == [f'leftImg8bit/train/tiny/tiny_{i:06d}_000019_'
                     'leftImg8bit.png' for i in range(2)]
    for name in names:
        img = cv2.imread(osp.join(cs, name))
        expected = mmcv.imresize(img, (48, 24), interpolation='bicubic',
                                 backend='pillow')
        assert np.array_equal(cv2.imread(osp.join(out, name)), expected)
    other = out + '_dotted'
    assert tool.main([cfg, other, '--dataset',
                      'uda_train_dataloader.dataset.source',
                      '--nproc', '1']) == 0
    assert read_manifest(other)['num_files'] == 6


def test_select_dataset(tool):
    from mmengine.config import Config
    gta = dict(type='GTAVDataset', data_root='g')
    cfg = Config(dict(
        train_dataloader=dict(dataset=dict(
            type='SourceTargetDataset',
            source=dict(type='ResizedCacheDataset', cache_dir='c',
                        dataset=gta),
            target=dict(type='CityscapesDataset', data_root='t'))),
        uda_train_dataloader=dict(dataset=dict(
            source=dict(type='SynthiaDataset'), target=dict(type='X'))),
        val_dataloader=dict(dataset=dict(type='CityscapesDataset'))))
    assert tool.select_dataset(cfg, 'source') == gta
    assert tool.select_dataset(cfg, 'target')['data_root'] == 't'
    assert tool.select_dataset(cfg, 'val_dataloader.dataset') == dict(
        type='CityscapesDataset')
    cfg.train_dataloader.dataset = gta  # not a pair: the UDA loader's
    assert tool.select_dataset(cfg, 'source') == dict(type='SynthiaDataset')
    cfg.uda_train_dataloader = dict(batch_size=1)
    with pytest.raises(KeyError, match='no source dataset'):
        tool.select_dataset(cfg, 'source')
    with pytest.raises(KeyError, match='not a dataset config'):
        tool.select_dataset(cfg, 'val_dataloader')


@pytest.mark.parametrize('args,match', [
    (['--dataset', 'val_dataloader.nothing'], "no key 'val_dataloader"),
    (['--dataset', 'source', '--cfg-options',
      'uda_train_dataloader.dataset.source.pipeline.2.type=RandomFlip'],
     'no Resize transform'),
])
def test_refusals(layout, tool, capsys, args, match):
    cfg, _, _, out = layout
    assert tool.main([cfg, out, '--nproc', '1', *args]) == 1
    assert match in capsys.readouterr().err
    assert not osp.exists(osp.join(out, MANIFEST))


def test_refuses_unreadable_file_and_missing_config(layout, tool, capsys):
    cfg, gta, _, out = layout
    bad = osp.join(gta, 'labels', '00001_labelTrainIds.png')
    with open(bad, 'wb') as f:
        f.write(b'garbage')
    assert tool.main([cfg, out, '--nproc', '1']) == 1
    err = capsys.readouterr().err
    assert f'cannot read label {bad!r}' in err
    assert not osp.exists(osp.join(out, MANIFEST))
    assert tool.main([cfg + '.missing', out]) == 1
    assert 'config file not found' in capsys.readouterr().err
