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


def test_dtype_is_set_on_every_wrapper_and_checked():
    cfg = Config(dict(optim_wrapper=dict(
        constructor='SomeMultiConstructor',
        segmentor=dict(type='OptimWrapper', optimizer=SGD),
        discriminators=dict(optimizer=dict(type='Adam', lr=1e-4)))))
    enable_amp(cfg, dtype='bfloat16')
    assert cfg.optim_wrapper.segmentor.dtype == 'bfloat16'
    assert cfg.optim_wrapper.discriminators.dtype == 'bfloat16'
    # each wrapper keeps its own dynamic loss scaler
    assert cfg.optim_wrapper.segmentor.loss_scale == 'dynamic'
    assert cfg.optim_wrapper.discriminators.loss_scale == 'dynamic'
    with pytest.raises(ValueError, match='float16'):
        enable_amp(cfg, dtype='int8')


def test_amp_refused_without_cuda(monkeypatch):
    import torch

    from mmseg_uda.utils import check_amp_available
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(RuntimeError, match='needs a CUDA GPU'):
        check_amp_available()
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    check_amp_available()
