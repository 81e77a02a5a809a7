"""Training options of every UDA model: channels-last, the discriminator
input size, the non-finite-loss guard and mixed precision."""
import copy
import logging

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper

from mmseg_uda.models.utils import NonFiniteLossError, nonfinite_guard
from mmseg_uda.models.utils.nonfinite_guard import SKIPPED_KEY
from .test_adversarial_uda_segmentor import _batch, _model, _optim


def _assert_states_close(ours, reference, **tol):
    for name, value in reference.items():
        torch.testing.assert_close(ours[name], value, msg=name, **tol)


def _parameters(model):
    """Parameters only: a forward pass moves BN running statistics."""
    return {k: v.detach().clone() for k, v in model.named_parameters()}


@pytest.mark.slow
def test_channels_last_gives_the_same_step():
    plain = _model('multi')
    fast = _model('multi', channels_last=True)
    fast.load_state_dict(plain.state_dict())
    batch = _batch(seed=3)
    logs = plain.train_step(copy.deepcopy(batch), _optim(plain))
    fast_logs = fast.train_step(copy.deepcopy(batch), _optim(fast))
    for key, value in logs.items():
        torch.testing.assert_close(fast_logs[key], value, rtol=1e-4,
                                   atol=1e-6, msg=key)
    _assert_states_close(fast.state_dict(), plain.state_dict(), rtol=1e-4,
                         atol=1e-6)
    weight = fast.segmentor.backbone.conv1.weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    assert not plain.segmentor.backbone.conv1.weight.is_contiguous(
        memory_format=torch.channels_last)
    data = fast.preprocess(copy.deepcopy(batch))
    for domain in ('source', 'target'):
        assert data[domain]['inputs'].is_contiguous(
            memory_format=torch.channels_last)


def _record_discriminator_inputs(model):
    seen = []
    for level, disc in model.discriminators.items():
        disc.register_forward_pre_hook(
            lambda m, args, level=level: seen.append(
                (level, tuple(args[0].shape[2:]))))
    return seen


@pytest.mark.slow
def test_discriminator_input_size():
    batch = _batch(seed=4)
    # logits of the tiny inputs are about 6x8: two 4x4 stride-2 convs fit
    small_disc = dict(type='FCDiscriminator', base_channels=4, num_convs=2)
    probe = _model('multi')
    data = probe.preprocess(copy.deepcopy(batch))
    logits_sizes = []
    for domain in ('source', 'target'):
        levels = probe.segmentor(data[domain]['inputs'], mode='levels')
        logits_sizes.append(
            {level: tuple(x.shape[2:]) for level, x in levels.items()})
    src_size, tgt_size = (41, 57), (33, 49)
    for option, (src, tgt) in (
            ('input', ({'main': src_size, 'aux': src_size},
                       {'main': tgt_size, 'aux': tgt_size})),
            ('logits', logits_sizes)):
        model = _model('multi', disc_input_size=option,
                       discriminator=small_disc)
        seen = _record_discriminator_inputs(model)
        model.train_step(copy.deepcopy(batch), _optim(model))
        # step 2: target; step 3: source, then target
        expected = [(lvl, tgt[lvl]) for lvl in ('main', 'aux')] + \
            [(lvl, src[lvl]) for lvl in ('main', 'aux')] + \
            [(lvl, tgt[lvl]) for lvl in ('main', 'aux')]
        assert seen == expected, option
    assert logits_sizes[0]['main'] != src_size
    with pytest.raises(ValueError, match='disc_input_size'):
        _model('multi', disc_input_size='half')


def _poison(model):
    """Make the main discriminator output NaN."""
    with torch.no_grad():
        model.discriminators['main'].convs[0].weight[0, 0, 0, 0] = \
            float('nan')


@pytest.mark.reliability
def test_nonfinite_loss_stops_naming_iteration_and_term():
    model = _model('multi')
    _poison(model)
    before = _parameters(model)
    MessageHub.get_current_instance().update_info('iter', 6)
    with pytest.raises(NonFiniteLossError) as info:
        model.train_step(_batch(seed=5), _optim(model))
    message = str(info.value)
    assert 'iteration 7' in message
    assert 'tgt.main.loss_adv' in message
    assert 'disc.main.loss_src' in message
    assert 'src.main.loss_ce' not in message
    # nothing stepped: no parameter moved
    _assert_states_close(_parameters(model), before, rtol=0, atol=0,
                         equal_nan=True)


@pytest.mark.reliability
def test_nonfinite_loss_skip_counts_and_keeps_weights(monkeypatch):
    model = _model('multi', nonfinite_loss='skip')
    _poison(model)
    optim = _optim(model)
    hub = MessageHub.get_current_instance()
    hub.update_info(SKIPPED_KEY, 0)
    hub.update_info('iter', 0)
    before = _parameters(model)
    warnings = []
    monkeypatch.setattr(
        nonfinite_guard, 'print_log',
        lambda msg, logger=None, level=None: warnings.append((msg, level)))
    for _ in range(2):
        model.train_step(_batch(seed=6), optim)
    assert hub.get_info(SKIPPED_KEY) == 2
    assert len(warnings) == 2
    assert all(level == logging.WARNING and 'step skipped' in msg and
               'tgt.main.loss_adv' in msg for msg, level in warnings)
    assert '(2 skipped so far)' in warnings[-1][0]
    _assert_states_close(_parameters(model), before, rtol=0, atol=0,
                         equal_nan=True)
    for wrapper in optim.values():
        for group in wrapper.optimizer.param_groups:
            assert all(p.grad is None or not p.grad.any()
                       for p in group['params'])
    # a finite step afterwards trains as usual
    model.discriminators['main'].load_state_dict(
        _model('multi').discriminators['main'].state_dict())
    model.train_step(_batch(seed=6), optim)
    name = 'segmentor.decode_head.convs.0.weight'
    assert not torch.equal(_parameters(model)[name], before[name])
    with pytest.raises(ValueError, match='nonfinite_loss'):
        _model('multi', nonfinite_loss='ignore')


@pytest.mark.reliability
def test_minent_guard():
    from .test_advent_uda_segmentor import _model as advent_model
    from .test_advent_uda_segmentor import _seg_optim
    model = advent_model('minent')
    with torch.no_grad():
        model.segmentor.decode_head.convs[0].weight.fill_(float('inf'))
    with pytest.raises(NonFiniteLossError, match='loss'):
        model.train_step(_batch(seed=7), _seg_optim(model))


def test_bf16_autocast_with_a_loss_scaler_per_optimizer(monkeypatch):
    """AmpOptimWrapper for both optimizers: the step runs under autocast
    and each wrapper scales its own loss (CPU: bfloat16, scaler off)."""
    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp_module
    monkeypatch.setattr(amp_module, 'is_cuda_available', lambda: True)
    model = _model('multi')
    reference = copy.deepcopy(model)
    cfg = dict(_optim_cfg())
    for name in ('segmentor', 'discriminators'):
        cfg[name] = dict(cfg[name], type='AmpOptimWrapper',
                         dtype='bfloat16')
    optim = build_optim_wrapper(model, cfg)
    dtypes = []
    model.discriminators['main'].register_forward_hook(
        lambda m, args, out: dtypes.append(out.dtype))
    logs = model.train_step(_batch(seed=8), optim)
    assert dtypes and set(dtypes) == {torch.bfloat16}
    assert all(torch.isfinite(v).all() for v in logs.values())
    fp32_logs = reference.train_step(_batch(seed=8), _optim(reference))
    # bfloat16 keeps about 3 significant digits
    torch.testing.assert_close(logs['src.main.loss_ce'],
                               fp32_logs['src.main.loss_ce'], rtol=3e-2,
                               atol=1e-3)
    for name in ('segmentor.decode_head.convs.0.weight',
                 'discriminators.main.convs.0.weight'):
        assert not torch.equal(model.state_dict()[name],
                               _model('multi').state_dict()[name])
    assert {type(w).__name__ for w in optim.values()} == {'AmpOptimWrapper'}
    scalers = [w.loss_scaler for w in optim.values()]
    assert scalers[0] is not scalers[1]


def _optim_cfg():
    from .test_adversarial_uda_segmentor import D_LR, SEG_LR
    return dict(
        constructor='MultiOptimWrapperConstructor',
        segmentor=dict(
            type='OptimWrapper',
            optimizer=dict(type='SGD', lr=SEG_LR, momentum=0.9,
                           weight_decay=5e-4)),
        discriminators=dict(
            type='OptimWrapper',
            optimizer=dict(type='Adam', lr=D_LR, betas=(0.9, 0.99))))
