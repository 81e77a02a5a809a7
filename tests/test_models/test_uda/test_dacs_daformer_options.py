"""DACSUDASegmentor with DAFormer's ImageNet feature distance (FD) and
pseudo-label crop: one training step against a re-statement of DAFormer's
DACS step (tests/reference/daformer_dacs.py), the frozen ImageNet copy
(no gradients, no optimizer, no checkpoint entries), a checkpoint round
trip, the FD without thing pixels, and refused options."""
import copy
import inspect

import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import load_state_dict as mmengine_load

from mmseg_uda.models.uda.dacs_uda_segmentor import DACSUDASegmentor
from mmseg_uda.utils.checkpoint_coverage import checkpoint_coverage
from mmseg_uda.utils.config_check import check_uda_config
from tests.test_models.test_uda.test_dacs_uda_segmentor import (
    DAFORMER_THRESHOLD, _batch, _model, _optim, prepare_restatement,
    restated_step)

# thing classes of the tiny 4-class model (Cityscapes' are pinned against
# the shipped config in tests/test_configs); weight large enough that the
# FD's share of the gradient is well above the comparison's tolerance
FD = dict(type='FeatureDistanceLoss', loss_weight=0.5, thing_classes=[2, 3],
          scale_min_ratio=0.75)
# rows of the 32x32 test crop (DAFormer: 15 and 120 of a 512x512 crop)
TOP, BOTTOM = 3, 5


def _blocky_batch(seed: int, classes=(0, 1, 2, 3)) -> dict:
    """A labelled batch whose labels are constant on 8x8 blocks, so that
    many 6x6 blocks of the FD's downscaling (label width 32 // feature
    width 5) hold one class."""
    batch = _batch(seed, True)
    gen = torch.Generator().manual_seed(seed + 100)
    pick = torch.as_tensor(classes)
    for sample in batch['data_samples']:
        grid = pick[torch.randint(0, len(classes), (1, 4, 4), generator=gen)]
        sample.gt_sem_seg.data = grid.repeat_interleave(
            8, dim=1).repeat_interleave(8, dim=2)
    return batch


def _fd_model(**kwargs) -> DACSUDASegmentor:
    kwargs = dict(dict(imnet_feature_dist=FD,
                       pseudo_weight_ignore_top=TOP,
                       pseudo_weight_ignore_bottom=BOTTOM), **kwargs)
    return _model(multi_level=False, **kwargs)


def test_defaults_are_off():
    params = inspect.signature(DACSUDASegmentor).parameters
    assert params['imnet_feature_dist'].default is None
    assert params['pseudo_weight_ignore_top'].default == 0
    assert params['pseudo_weight_ignore_bottom'].default == 0
    model = _model(multi_level=False)
    assert model.imnet_feature_dist is None
    assert not hasattr(model, 'imnet_model')
    assert model.pseudo_weight_ignore == (0, 0)
    assert not any(k.startswith('imnet_model.') for k in model.state_dict())


def _count_forwards(module) -> list:
    calls = []
    module.register_forward_hook(lambda *args: calls.append(1))
    return calls


def test_train_step_with_fd_and_crop_matches_a_restatement_of_daformer(
        monkeypatch):
    """One step with FD + crop + ClassMix against DAFormer's step fed the
    same draws (see test_train_step_matches_a_restatement_of_daformer for
    the draws and the two documented differences the data keeps out):
    every logged term, the cropped pseudo-weight, the mixed weight, the
    gradients and the weights after the step."""
    model = _fd_model(pseudo_threshold=DAFORMER_THRESHOLD, mix='class',
                      color_jitter_prob=0.0, blur_prob=1.0)
    reference, seen, data, src_label, classes = prepare_restatement(
        model, monkeypatch, _blocky_batch(0))
    student_runs = _count_forwards(model.segmentor.backbone)
    imnet_runs = _count_forwards(model.imnet_model.backbone)
    imnet_before = copy.deepcopy(model.imnet_model.state_dict())
    grads = {}
    real_step = model.step_optimizers

    def keep_grads(wrappers, log_vars):
        grads.update({n: p.grad.clone()
                      for n, p in model.segmentor.named_parameters()
                      if p.grad is not None})
        real_step(wrappers, log_vars)

    monkeypatch.setattr(model, 'step_optimizers', keep_grads)

    log_vars = model.train_step(copy.deepcopy(data), _optim(model))

    # one student backbone pass per image batch (source, mix), one frozen
    assert len(student_runs) == 2 and len(imnet_runs) == 1
    masks = seen['class_mix_masks'][2]
    student = reference.segmentor
    expected = restated_step(
        reference, seen, data, src_label, classes,
        imnet=reference.imnet_model,
        fdist=dict(classes=FD['thing_classes'],
                   min_ratio=FD['scale_min_ratio'], n_classes=4,
                   lam=FD['loss_weight']),
        ignore_top=TOP, ignore_bottom=BOTTOM)

    assert set(log_vars) >= {'src.main.loss_ce', 'src.loss_imnet_feat_dist',
                             'mix.main.loss_ce', 'mix.pseudo_weight'}
    tol = dict(rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(log_vars['src.main.loss_ce'],
                               expected['src_loss'], **tol)
    assert expected['feat_loss'] > 0.01
    torch.testing.assert_close(log_vars['src.loss_imnet_feat_dist'],
                               expected['feat_loss'], **tol)
    torch.testing.assert_close(log_vars['mix.main.loss_ce'],
                               expected['mix_loss'], **tol)
    weight = seen['pseudo_label'][2][1]
    assert 0 < weight.item() < 1
    assert log_vars['mix.pseudo_weight'].item() == pytest.approx(
        weight.item())
    # the crop: target weights before the mix are DAFormer's cropped ones
    cropped = seen['class_mix'][0][5]
    torch.testing.assert_close(cropped, expected['pseudo_weight'])
    assert (cropped[:, :TOP] == 0).all() and (cropped[:, -BOTTOM:] == 0).all()
    assert (cropped[:, TOP:-BOTTOM] == weight).all()
    mixed_weight = seen['class_mix'][2][2]
    torch.testing.assert_close(mixed_weight, expected['mixed_weight'])
    assert (mixed_weight[:, :TOP][masks[:, :TOP]] == 1).all()
    assert (mixed_weight[:, :TOP][~masks[:, :TOP]] == 0).all()
    # gradients and weights of the student; the frozen copy untouched
    assert set(grads) == set(expected['grads'])
    for name, grad in expected['grads'].items():
        torch.testing.assert_close(grads[name], grad, **tol, msg=name)
    ours = dict(model.segmentor.named_parameters())
    for name, param in student.named_parameters():
        torch.testing.assert_close(ours[name], param, **tol, msg=name)
    for name, value in model.imnet_model.state_dict().items():
        assert torch.equal(value, imnet_before[name]), name
    assert all(p.grad is None for p in model.imnet_model.parameters())
    assert not model.imnet_model.training


def test_the_fd_changes_the_gradients_it_is_compared_on():
    """The comparison above is not vacuous: without the FD the backbone
    gradients of the same step differ well beyond its tolerance."""
    model = _fd_model(color_jitter_prob=0.0, blur_prob=0.0)
    model.train()
    without = copy.deepcopy(model)
    without.imnet_feature_dist = None
    data = dict(source=_blocky_batch(0), target=_batch(1, False))
    steps = []
    for net in (model, without):
        torch.manual_seed(3)
        log_vars = net.train_step(copy.deepcopy(data), _optim(net))
        steps.append((log_vars, dict(net.segmentor.named_parameters())))
    assert steps[0][0]['src.loss_imnet_feat_dist'] > 0.01
    assert 'src.loss_imnet_feat_dist' not in steps[1][0]
    # (the residual branches' convs start behind zero-initialised BN
    # weights: their first gradient is 0 either way)
    name = 'backbone.layer4.0.downsample.0.weight'
    assert (steps[0][1][name] - steps[1][1][name]).abs().max() > 1e-4
    # the FD reaches the backbone only: the heads' update is unchanged
    torch.testing.assert_close(steps[0][1]['decode_head.convs.0.weight'],
                               steps[1][1]['decode_head.convs.0.weight'])


def test_fd_is_zero_with_zero_gradient_without_thing_pixels():
    model = _fd_model(color_jitter_prob=0.0, blur_prob=0.0)
    model.train()
    without = copy.deepcopy(model)
    without.imnet_feature_dist = None
    data = dict(source=_blocky_batch(0, classes=(0, 1)),
                target=_batch(1, False))
    steps = []
    for net in (model, without):
        torch.manual_seed(3)
        steps.append(net.train_step(copy.deepcopy(data), _optim(net)))
    fd = steps[0]['src.loss_imnet_feat_dist']
    assert torch.isfinite(fd) and fd.item() == 0.0
    torch.testing.assert_close(steps[0]['src.main.loss_ce'],
                               steps[1]['src.main.loss_ce'])
    theirs = dict(without.segmentor.named_parameters())
    for name, param in model.segmentor.named_parameters():
        assert torch.equal(param, theirs[name]), name


def test_frozen_copy_is_out_of_optimizers_and_checkpoints():
    model = _fd_model()
    imnet = model.imnet_model
    assert all(not p.requires_grad for p in imnet.parameters())
    optim = _optim(model)
    optimized = {id(p) for wrapper in optim.values()
                 for g in wrapper.param_groups for p in g['params']}
    assert optimized and not optimized & {id(p) for p in imnet.parameters()}
    state = model.state_dict()
    assert not any(k.startswith('imnet_model.') for k in state)
    assert any(k.startswith('teacher.') for k in state)
    assert imnet.state_dict() == {}  # saved on its own: empty too

    # loading (torch's and mmengine's loaders, strict) reports nothing
    # missing and keeps the frozen copy's weights, even when the state
    # dict carries other values for it
    fresh = _fd_model()
    kept = {k: v.clone() for k, v in
            fresh.imnet_model.named_parameters()}
    with torch.no_grad():
        for param in model.segmentor.parameters():
            param.add_(1.0)
    result = fresh.load_state_dict(model.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    foreign = dict(model.state_dict(), **{
        f'imnet_model.{k}': v + 5 for k, v in kept.items()})
    mmengine_load(fresh, foreign, strict=True)
    for name, param in fresh.imnet_model.named_parameters():
        assert torch.equal(param, kept[name]), name
    torch.testing.assert_close(fresh.segmentor.state_dict(),
                               model.segmentor.state_dict())
    # the coverage check of tools/test.py agrees
    coverage = checkpoint_coverage(_fd_model(), {'state_dict': state})
    assert coverage.missing == [] and coverage.fraction == 1.0
    # a plain segmentor checkpoint (load_from) leaves the copy as it is
    plain = _fd_model()
    plain.load_state_dict(model.segmentor.state_dict(), strict=True)
    for name, param in plain.imnet_model.named_parameters():
        assert torch.equal(param, kept[name]), name


def test_checkpoint_round_trip_gives_identical_next_step_losses():
    model = _fd_model(color_jitter_prob=0.5, blur_prob=0.5)
    model.train()
    torch.manual_seed(1)
    model.train_step(dict(source=_blocky_batch(0), target=_batch(1, False)),
                     _optim(model))
    # a resumed run: built and initialised again (the frozen copy from the
    # same init weights), then the checkpoint is loaded
    resumed = _fd_model(color_jitter_prob=0.5, blur_prob=0.5)
    resumed.load_state_dict(model.state_dict(), strict=True)
    resumed.train()
    data = dict(source=_blocky_batch(2), target=_batch(3, False))
    steps = []
    for net in (model, resumed):
        torch.manual_seed(5)
        steps.append(net.train_step(copy.deepcopy(data), _optim(net)))
    assert steps[0]['src.loss_imnet_feat_dist'] > 0
    assert set(steps[0]) == set(steps[1])
    for key, value in steps[0].items():
        assert torch.equal(value, steps[1][key]), key


def test_bad_options_are_refused():
    with pytest.raises(TypeError, match='imnet_feature_dist must be a loss'):
        _model(multi_level=False, imnet_feature_dist=0.005)
    with pytest.raises(TypeError, match='imnet_feature_dist must be a loss'):
        _model(multi_level=False, imnet_feature_dist=dict(loss_weight=1.0))
    with pytest.raises(ValueError, match='imnet_feature_dist.*outside'):
        _model(multi_level=False, imnet_feature_dist=dict(
            FD, thing_classes=[6, 7]))  # the tiny model has 4 classes
    with pytest.raises(ValueError, match='imnet_feature_dist.*loss_weight'):
        _model(multi_level=False, imnet_feature_dist=dict(
            FD, loss_weight=-1))
    with pytest.raises(ValueError, match='imnet_feature_dist'):
        _model(multi_level=False, imnet_feature_dist=dict(
            FD, type='NoSuchLoss'))
    for name in ('pseudo_weight_ignore_top', 'pseudo_weight_ignore_bottom'):
        for bad in (-1, 1.5, True, '15'):
            with pytest.raises(ValueError, match=name):
                _model(multi_level=False, **{name: bad})
    # a misspelt key of the loss config fails the tools' config check,
    # before anything is built
    cfg = Config(dict(default_scope='mmseg', model=dict(
        type='DACSUDASegmentor', segmentor=dict(type='UDAEncoderDecoder'),
        imnet_feature_dist=dict(type='FeatureDistanceLoss',
                                thing_class=[6]))))
    with pytest.raises(ValueError, match=r'model\.imnet_feature_dist.*'
                       'thing_class'):
        check_uda_config(cfg)
