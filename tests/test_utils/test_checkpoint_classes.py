"""A checkpoint of another class count is refused with both numbers."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import mmseg_uda  # noqa: F401
from mmseg_uda.utils.checkpoint_classes import (check_checkpoint_classes,
                                                checkpoint_num_classes,
                                                config_num_classes)

pytestmark = pytest.mark.reliability

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_UDA = 'configs/demo/deeplabv2_r18_tiny_adaptseg_demo.py'
DEMO_SOURCE_ONLY = 'configs/demo/deeplabv2_r18_tiny_source_only_demo.py'


def _cfg(rel, num_classes=None):
    cfg = Config.fromfile(osp.join(ROOT, rel))
    if num_classes is not None:
        seg = cfg.model.get('segmentor', cfg.model)
        seg.decode_head.num_classes = num_classes
        seg.auxiliary_head.num_classes = num_classes
    return cfg


def _state_dict(cfg):
    init_default_scope('mmseg')
    return MODELS.build(cfg.model).state_dict()


@pytest.mark.parametrize('rel', [DEMO_UDA, DEMO_SOURCE_ONLY])
def test_class_counts_of_built_models(rel):
    cfg = _cfg(rel, num_classes=5)
    state = _state_dict(cfg)
    expected = dict(decode_head=5, auxiliary_head=5)
    assert config_num_classes(cfg) == expected
    assert checkpoint_num_classes(state) == expected
    # a checkpoint of the same model passes, with or without a prefix
    check_checkpoint_classes(cfg, dict(state_dict=state), 'same.pth')
    check_checkpoint_classes(cfg, state, 'bare.pth')


def test_a_uda_checkpoint_of_other_classes_is_refused():
    trained = _state_dict(_cfg(DEMO_UDA, num_classes=7))
    assert any(k.startswith('segmentor.decode_head.') for k in trained)
    cfg = _cfg(DEMO_UDA, num_classes=19)
    with pytest.raises(ValueError) as e:
        check_checkpoint_classes(cfg, dict(state_dict=trained), 'w/it.pth')
    msg = str(e.value)
    assert 'w/it.pth' in msg and '7 classes' in msg
    assert 'num_classes=19' in msg
    # the segmentor's checkpoint against the plain source-only config
    plain = _cfg(DEMO_SOURCE_ONLY, num_classes=3)
    with pytest.raises(ValueError, match='7 classes.*num_classes=3'):
        check_checkpoint_classes(plain, trained, 'seg.pth')


def test_conv_seg_heads_and_lists_of_auxiliary_heads():
    state = {
        'decode_head.conv_seg.weight': torch.zeros(4, 8, 1, 1),
        'decode_head.conv_seg.bias': torch.zeros(4),
        'auxiliary_head.0.conv_seg.weight': torch.zeros(4, 8, 1, 1),
        'auxiliary_head.1.conv_seg.weight': torch.zeros(6, 8, 1, 1),
        'backbone.conv1.weight': torch.zeros(16, 3, 3, 3),
    }
    assert checkpoint_num_classes(state) == {
        'decode_head': 4, 'auxiliary_head.0': 4, 'auxiliary_head.1': 6}
    cfg = Config(dict(model=dict(
        type='EncoderDecoder',
        decode_head=dict(num_classes=4),
        auxiliary_head=[dict(num_classes=4), dict(num_classes=5)])))
    assert config_num_classes(cfg) == {
        'decode_head': 4, 'auxiliary_head.0': 4, 'auxiliary_head.1': 5}
    with pytest.raises(ValueError, match=r'6 classes \(auxiliary_head.1'):
        check_checkpoint_classes(cfg, dict(state_dict=state), 'x.pth')


def test_a_tta_model_is_looked_into():
    cfg = _cfg(DEMO_SOURCE_ONLY, num_classes=4)
    cfg.model = dict(type='SegTTAModel', module=cfg.model)
    assert config_num_classes(cfg) == dict(decode_head=4, auxiliary_head=4)
    state = {'decode_head.convs.0.weight': torch.zeros(9, 2, 3, 3)}
    with pytest.raises(ValueError, match='9 classes.*num_classes=4'):
        check_checkpoint_classes(cfg, state, 'tta.pth')


def test_models_without_heads_and_checkpoints_without_classifiers():
    cfg = Config(dict(model=dict(type='EnsembleSegmentor', members=[])))
    assert config_num_classes(cfg) == {}
    check_checkpoint_classes(
        cfg, {'decode_head.conv_seg.weight': torch.zeros(3, 1, 1, 1)}, 'e')
    # a backbone-only checkpoint says nothing about classes
    check_checkpoint_classes(_cfg(DEMO_SOURCE_ONLY), dict(
        state_dict={'backbone.conv1.weight': torch.zeros(1)}), 'b.pth')


def test_disagreeing_classifiers_of_one_head_are_reported():
    state = {'segmentor.decode_head.convs.0.weight': torch.zeros(3, 1, 1, 1),
             'teacher.decode_head.convs.0.weight': torch.zeros(5, 1, 1, 1)}
    with pytest.raises(ValueError, match=r'disagree.*\[3, 5\]'):
        checkpoint_num_classes(state)
