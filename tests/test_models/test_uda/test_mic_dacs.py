"""MIC's masked image consistency as an option of DACSUDASegmentor: one
step with MIC (and FD, crop, ClassMix) against the re-statement of the
DAFormer/MIC step (tests/reference/daformer_dacs.py with
tests/reference/mic.py), the loss scaling, MIC's numbers and refused
options."""
import copy
import functools

import pytest
import torch
from mmengine.config import Config

from mmseg_uda.models.uda.masked_consistency import (MIC_DEFAULTS,
                                                     MaskedConsistency)
from mmseg_uda.models.utils import masking_transforms, mix_augmentation
from mmseg_uda.utils.config_check import check_uda_config
from tests.reference.daformer_dacs import dacs_step
from tests.reference.mic import mic_step
from tests.test_models.test_uda.test_dacs_daformer_options import (
    BOTTOM, FD, TOP, _blocky_batch)
from tests.test_models.test_uda.test_dacs_uda_segmentor import (
    DAFORMER_THRESHOLD, _batch, _model, _optim, drawn_classes,
    normalised_images, prepare_restatement)

# MIC's options, re-stated from lhoyer/MIC
# seg/configs/mic/gtaHR2csHR_mic_hrda.py (``uda = dict(mask_mode=...)``)
MIC_CONFIG = dict(
    mask_mode='separatetrgaug',
    mask_alpha='same',
    mask_pseudo_threshold='same',
    mask_lambda=1,
    mask_generator=dict(type='block', mask_ratio=0.7, mask_block_size=64))
# blocks of the 32x32 test crop: a 4x4 grid, as 64 px on a 256 px crop
TINY_MIC = dict(MIC_CONFIG,
                mask_generator=dict(type='block', mask_ratio=0.7,
                                    mask_block_size=8))


def test_defaults_are_mics_published_settings():
    """Every number of MIC's option, from seg/configs/mic/
    gtaHR2csHR_mic_hrda.py: masks of 64x64 blocks at ratio 0.7 on the
    colour-augmented target images, the DACS teacher's alpha and
    threshold, weight 1."""
    assert MIC_DEFAULTS == MIC_CONFIG
    mic = MaskedConsistency()
    assert mic.mask_mode == 'separatetrgaug'
    assert mic.mask_lambda == 1
    assert mic.mask_gen.mask_ratio == 0.7
    assert mic.mask_gen.mask_block_size == 64
    # the DACS option is off unless asked for
    assert _model(multi_level=False).mic is None
    model = _model(multi_level=False, mask_consistency=MIC_CONFIG)
    assert (model.mic.mask_gen.mask_ratio,
            model.mic.mask_gen.mask_block_size) == (0.7, 64)
    # MIC holds no weights: checkpoints are those of DACS
    assert model.state_dict().keys() == _model(
        multi_level=False).state_dict().keys()


def _all_calls(monkeypatch, owner, name) -> list:
    """Record every result of ``owner.name`` (with its arguments)."""
    calls = []
    real = getattr(owner, name)

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        calls.append((args, out))
        return out

    monkeypatch.setattr(owner, name, spy)
    return calls


def _step_keeping_grads(model, grads: dict, real_step, wrappers,
                        log_vars) -> None:
    """``step_optimizers`` that first copies the student's gradients into
    ``grads``."""
    for name, param in model.segmentor.named_parameters():
        if param.grad is not None:
            grads[name] = param.grad.clone()
    real_step(wrappers, log_vars)


def test_train_step_with_mic_matches_the_restatement(monkeypatch):
    """One DACS + FD + crop + MIC step against the original's step fed the
    same draws: every logged term (source CE, FD, mixed CE, masked CE,
    pseudo-weight), the masked image, the gradients and the weights after
    the step. The draws: colour jitter off on both sides, blur on with the
    sigmas each augmentation drew here (the original blurs MIC's batch with
    one sigma, ours draws one per image; see tests/reference/mic.py), the
    class choice and the mask's block draws as drawn here."""
    model = _model(multi_level=False, pseudo_threshold=DAFORMER_THRESHOLD,
                   mix='class', color_jitter_prob=0.0, blur_prob=1.0,
                   imnet_feature_dist=FD, pseudo_weight_ignore_top=TOP,
                   pseudo_weight_ignore_bottom=BOTTOM,
                   mask_consistency=TINY_MIC)
    reference, seen, data, src_label, classes = prepare_restatement(
        model, monkeypatch, _blocky_batch(0))
    blurs = _all_calls(monkeypatch, mix_augmentation, 'gaussian_blur')
    draws = _all_calls(monkeypatch, masking_transforms, 'block_draws')
    masked = _all_calls(monkeypatch, model.mic, 'masked_images')
    grads = {}
    monkeypatch.setattr(model, 'step_optimizers', functools.partial(
        _step_keeping_grads, model, grads, model.step_optimizers))

    log_vars = model.train_step(copy.deepcopy(data), _optim(model))

    assert len(blurs) == 2 and len(draws) == 1 and len(masked) == 1
    block_draws = draws[0][1]
    assert block_draws.shape == (2, 1, 4, 4)
    keep = block_draws > 0.7
    assert keep.any() and not keep.all()
    mic_sigmas = blurs[1][0][1].tolist()

    def expected_step(mic):
        net = copy.deepcopy(reference)
        return net, dacs_step(
            net.segmentor, net.teacher,
            torch.optim.SGD([p for p in net.segmentor.parameters()
                             if p.requires_grad], lr=0.01),
            normalised_images(data, 'source'), src_label,
            normalised_images(data, 'target'), DAFORMER_THRESHOLD,
            drawn_classes(seen, src_label, classes),
            blurs[0][0][1].tolist(), imnet=net.imnet_model,
            fdist=dict(classes=FD['thing_classes'],
                       min_ratio=FD['scale_min_ratio'], n_classes=4,
                       lam=FD['loss_weight']),
            ignore_top=TOP, ignore_bottom=BOTTOM, mic=mic)

    reference, expected = expected_step(functools.partial(
        mic_step, draws=block_draws, mask_ratio=0.7,
        blur_sigmas=mic_sigmas))
    student = reference.segmentor

    assert set(log_vars) == {
        'src.main.loss_ce', 'src.main.acc_seg', 'src.loss_imnet_feat_dist',
        'mix.main.loss_ce', 'mix.main.acc_seg', 'mix.pseudo_weight',
        'masked.main.loss_ce', 'masked.main.acc_seg'}
    tol = dict(rtol=1e-5, atol=1e-6)
    # every loss term, MIC's on the cropped pseudo-weights
    assert expected['feat_loss'] > 0.01 and expected['masked_loss'] > 1e-3
    for key, term in (('src.main.loss_ce', 'src_loss'),
                      ('src.loss_imnet_feat_dist', 'feat_loss'),
                      ('mix.main.loss_ce', 'mix_loss'),
                      ('masked.main.loss_ce', 'masked_loss')):
        torch.testing.assert_close(log_vars[key], expected[term], **tol,
                                   msg=key)
    weight = seen['pseudo_label'][2][1]
    assert 0 < weight.item() < 1
    assert log_vars['mix.pseudo_weight'].item() == pytest.approx(
        weight.item())
    # the masked target image
    torch.testing.assert_close(masked[0][1], expected['masked_img'])
    assert (masked[0][1] == 0).any()
    # gradients after all three backwards, and the weights after the step
    ours = dict(model.segmentor.named_parameters())
    assert set(grads) == set(expected['grads'])
    for name, param in student.named_parameters():
        for mine, theirs in ((grads.get(name), expected['grads'].get(name)),
                             (ours[name], param)):
            if theirs is not None:
                torch.testing.assert_close(mine, theirs, **tol, msg=name)
    # not vacuous: without MIC the same step's gradients differ
    _, without = expected_step(None)
    name = 'decode_head.convs.0.weight'
    assert (without['grads'][name] - grads[name]).abs().max() > 1e-4


def test_mask_lambda_scales_the_main_level_only():
    """As the original (``masked_loss['decode.loss_seg'] *=
    mask_lambda``): the decode loss is scaled, the auxiliary head's and the
    accuracies are not."""
    mic = MaskedConsistency(mask_lambda=0.5)
    losses = {'main.loss_ce': torch.tensor(2.0),
              'main.acc_seg': torch.tensor([80.0]),
              'aux.loss_ce': torch.tensor(3.0)}
    scaled = mic.weight_losses(losses)
    assert scaled['main.loss_ce'].item() == 1.0
    assert scaled['main.acc_seg'].item() == 80.0
    assert scaled['aux.loss_ce'].item() == 3.0
    assert MaskedConsistency().weight_losses(losses) is losses


def test_mask_lambda_reaches_the_logged_masked_loss():
    data = dict(source=_batch(0, True), target=_batch(1, False))
    steps = []
    for lam in (1, 0.25):
        # threshold 0: every pixel confident, pseudo-weight 1
        model = _model(multi_level=True, pseudo_threshold=0.0,
                       color_jitter_prob=0.0, blur_prob=0.0,
                       mask_consistency=dict(TINY_MIC, mask_lambda=lam))
        model.train()
        torch.manual_seed(3)
        steps.append(model.train_step(copy.deepcopy(data), _optim(model)))
    assert steps[0]['masked.main.loss_ce'] > 0
    torch.testing.assert_close(steps[1]['masked.main.loss_ce'],
                               0.25 * steps[0]['masked.main.loss_ce'])
    torch.testing.assert_close(steps[1]['masked.aux.loss_ce'],
                               steps[0]['masked.aux.loss_ce'])
    torch.testing.assert_close(steps[1]['mix.main.loss_ce'],
                               steps[0]['mix.main.loss_ce'])


def test_bad_options_are_refused():
    for key, value in (('mask_mode', 'separate'),
                       ('mask_mode', 'separatetrg'),
                       ('mask_alpha', 0.999),
                       ('mask_pseudo_threshold', 0.968)):
        with pytest.raises(ValueError, match=f'mask_consistency.{key}'):
            _model(multi_level=False,
                   mask_consistency=dict(MIC_CONFIG, **{key: value}))
    with pytest.raises(ValueError, match='mask_consistency.mask_lambda'):
        _model(multi_level=False,
               mask_consistency=dict(MIC_CONFIG, mask_lambda=-1))
    with pytest.raises(TypeError, match='mask_consistency: unknown key'):
        _model(multi_level=False,
               mask_consistency=dict(MIC_CONFIG, mask_ratio=0.7))
    with pytest.raises(TypeError, match='mask_consistency must be a dict'):
        _model(multi_level=False, mask_consistency='separatetrgaug')
    with pytest.raises(ValueError, match='mask_consistency: mask_ratio'):
        _model(multi_level=False, mask_consistency=dict(
            MIC_CONFIG, mask_generator=dict(type='block', mask_ratio=7,
                                            mask_block_size=64)))
    # blocks larger than the training crop fail on the first step, naming
    # the option
    model = _model(multi_level=False, mask_consistency=MIC_CONFIG)
    with pytest.raises(ValueError, match='mask_block_size=64'):
        model.train_step(dict(source=_batch(0, True),
                              target=_batch(1, False)), _optim(model))
    # a misspelt key fails the tools' config check, before anything is
    # built
    cfg = Config(dict(default_scope='mmseg', model=dict(
        type='DACSUDASegmentor', segmentor=dict(type='UDAEncoderDecoder'),
        mask_consistency=dict(mask_mode='separatetrgaug', mask_lamda=1))))
    with pytest.raises(ValueError, match=r'model\.mask_consistency.*'
                       'mask_lamda'):
        check_uda_config(cfg)
