"""The plain PyTorch re-statements compute what our train_step computes:
same losses and same parameters after two steps from identical weights.

This is a consistency check of the benchmark (the timed "plain" step does
the same work as ours, so the ratio of their times means something). It is
not evidence that our step is faithful to the originals: both sides here
are ours. Faithfulness is pinned by the re-statements of the originals'
loops, e.g. tests/test_models/test_uda/test_adversarial_uda_segmentor.py
(AdaptSegNet, BDL) and test_dacs_uda_segmentor.py (DAFormer)."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from benchmarks.lib.plain_inputs import UnsupportedModel
from benchmarks.lib.plain_train_step import build_plain_step

ADAPTSEG = 'configs/demo/deeplabv2_r18_tiny_adaptseg_demo.py'
SOURCE_ONLY = 'configs/demo/deeplabv2_r18_tiny_source_only_demo.py'
NUM_CLASSES = 7


def _domain(gen, num, size, labelled):
    inputs, samples = [], []
    for _ in range(num):
        inputs.append(torch.randint(0, 256, (3, *size), generator=gen,
                                    dtype=torch.uint8))
        sample = SegDataSample()
        if labelled:
            label = torch.randint(0, NUM_CLASSES, (1, *size), generator=gen)
            label[:, :3, :5] = 255  # some ignored pixels
            sample.gt_sem_seg = PixelData(data=label)
        sample.set_metainfo(dict(img_shape=size, ori_shape=size))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def _paired_batch(seed, target_labels=False):
    gen = torch.Generator().manual_seed(seed)
    return dict(source=_domain(gen, 2, (32, 40), True),
                target=_domain(gen, 2, (32, 32), target_labels))


def _build(cfg):
    init_default_scope('mmseg')
    torch.manual_seed(0)
    ours = MODELS.build(copy.deepcopy(cfg.model))
    ours.init_weights()
    plain = copy.deepcopy(ours)
    return (ours, build_optim_wrapper(ours, copy.deepcopy(cfg.optim_wrapper)),
            plain, build_optim_wrapper(plain,
                                       copy.deepcopy(cfg.optim_wrapper)))


def _uda_cfg(variant, repo_root):
    cfg = Config.fromfile(f'{repo_root}/{ADAPTSEG}')
    model = cfg.model
    if variant == 'lsgan_single':
        model.gan_loss = 'lsgan'
        model.adv_weights = dict(main=0.01)
        model.segmentor.auxiliary_head = None  # as the shipped LS-GAN
    elif variant == 'advent':
        model.type = 'AdvEntUDASegmentor'
    elif variant == 'ssl':
        model.ssl_weights = dict(main=1.0)
    elif variant == 'channels_last':
        model.channels_last = True
    elif variant == 'originals_listing':
        cfg.optim_wrapper.segmentor.constructor = \
            'OriginalsListingOptimWrapperConstructor'
    elif variant == 'minent':
        for key in ('discriminator', 'adv_weights', 'gan_loss'):
            model.pop(key)
        model.type = 'MinEntUDASegmentor'
        model.ent_weights = dict(main=0.001, aux=0.0002)
        cfg.optim_wrapper.pop('discriminators')
    return cfg


def _assert_same_step(ours, ours_wrapper, plain, plain_wrapper, batches):
    step = build_plain_step(plain, plain_wrapper, torch.device('cpu'))
    for batch in batches:
        ours.train()
        plain.train()
        log_vars = ours.train_step(copy.deepcopy(batch), ours_wrapper)
        terms = step(copy.deepcopy(batch))
        ours_losses = {k: v for k, v in log_vars.items()
                       if 'loss' in k and k != 'loss'}
        assert set(terms) == set(ours_losses)
        for key, value in terms.items():
            torch.testing.assert_close(value, ours_losses[key], atol=1e-6,
                                       rtol=1e-5, msg=key)
        moved = 0
        for (name, a), b in zip(ours.named_parameters(), plain.parameters()):
            torch.testing.assert_close(b, a, atol=1e-6, rtol=1e-5, msg=name)
            moved += int(a.requires_grad)
        assert moved > 0
        for (name, a), b in zip(ours.named_buffers(), plain.buffers()):
            torch.testing.assert_close(b, a, atol=1e-6, rtol=1e-5, msg=name)
    return terms


@pytest.mark.parametrize('variant', [
    'vanilla_multi', 'lsgan_single', 'advent', 'minent', 'ssl',
    'originals_listing', 'channels_last'
])
@pytest.mark.slow
def test_plain_step_restates_uda_train_step(variant, repo_root):
    cfg = _uda_cfg(variant, repo_root)
    ours, ours_wrapper, plain, plain_wrapper = _build(cfg)
    before = [p.detach().clone() for p in plain.parameters()]
    batches = [_paired_batch(1, variant == 'ssl'),
               _paired_batch(2, variant == 'ssl')]
    terms = _assert_same_step(ours, ours_wrapper, plain, plain_wrapper,
                              batches)
    # the step trained the model, the losses are the method's
    assert any(not torch.equal(a, b) for a, b in
               zip(before, plain.parameters()))
    expected = {'src.main.loss_ce'}
    if variant != 'lsgan_single':  # the single-level network has no aux
        expected.add('src.aux.loss_ce')
    if variant == 'minent':
        expected |= {'tgt.main.loss_ent', 'tgt.aux.loss_ent'}
    elif variant == 'lsgan_single':
        expected |= {'tgt.main.loss_adv', 'disc.main.loss_src',
                     'disc.main.loss_tgt'}
    else:
        expected |= {'tgt.main.loss_adv', 'tgt.aux.loss_adv',
                     'disc.aux.loss_src', 'disc.main.loss_tgt'}
    if variant == 'ssl':
        expected |= {'tgt.main.loss_ce'}
    assert expected <= set(terms)
    # the discriminators are trainable again after the step
    assert all(p.requires_grad for p in plain.parameters())


@pytest.mark.slow
def test_plain_step_restates_source_only_train_step(repo_root):
    cfg = Config.fromfile(f'{repo_root}/{SOURCE_ONLY}')
    ours, ours_wrapper, plain, plain_wrapper = _build(cfg)
    gen = torch.Generator().manual_seed(3)
    batches = [_domain(gen, 2, (24, 32), True) for _ in range(2)]
    terms = _assert_same_step(ours, ours_wrapper, plain, plain_wrapper,
                              batches)
    assert set(terms) == {'decode.loss_ce', 'aux.loss_ce'}


def test_unsupported_model_is_refused(repo_root):
    cfg = Config.fromfile(f'{repo_root}/{SOURCE_ONLY}')
    cfg.optim_wrapper.clip_grad = dict(max_norm=1.0)
    _, _, plain, plain_wrapper = _build(cfg)
    with pytest.raises(UnsupportedModel, match='clipping'):
        build_plain_step(plain, plain_wrapper, torch.device('cpu'))
    with pytest.raises(UnsupportedModel, match='Linear'):
        build_plain_step(torch.nn.Linear(2, 2), plain_wrapper,
                         torch.device('cpu'))
