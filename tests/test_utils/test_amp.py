"""--amp switches every optimizer wrapper of a config."""
import pytest
from mmengine.config import Config

from mmseg_uda.utils import enable_amp

SGD = dict(type='SGD', lr=0.01)


def test_single_wrapper():
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper', optimizer=SGD)))
    enable_amp(cfg)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'


def test_every_sub_wrapper_of_a_multi_optimizer_config():
    cfg = Config(dict(optim_wrapper=dict(
        constructor='SomeMultiConstructor',
        segmentor=dict(type='OptimWrapper', optimizer=SGD),
        discriminator=dict(optimizer=dict(type='Adam', lr=1e-4)))))
    enable_amp(cfg)
    assert cfg.optim_wrapper.segmentor.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.discriminator.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.constructor == 'SomeMultiConstructor'


def test_unknown_wrapper_or_missing_config_refused():
    with pytest.raises(KeyError, match='optim_wrapper'):
        enable_amp(Config(dict()))
    cfg = Config(dict(optim_wrapper=dict(type='Custom', optimizer=SGD)))
    with pytest.raises(ValueError, match='Custom'):
        enable_amp(cfg)
