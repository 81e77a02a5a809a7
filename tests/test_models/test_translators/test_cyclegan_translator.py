"""CycleGANTranslator: loss terms by hand, train_step, frozen segmentor."""
import copy

import pytest
import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmseg.structures import SegDataSample

from mmseg_uda.models.translators import (perceptual_distance,
                                          unit_rgb_to_segmentor_input)
from .helpers import build_translator, write_tiny_segmentor


class FixedDiscriminators(nn.Module):
    """Returns given logits per domain."""

    def __init__(self, **outs):
        super().__init__()
        self.outs = outs

    def forward(self, inputs):
        return {d: self.outs[d] for d in inputs}


def test_gan_losses_by_hand():
    model = build_translator()
    logits = torch.tensor([0.5, -1.0])
    # lsgan: mean((x - label)^2)
    assert model.gan_loss(logits, 1.0).item() == pytest.approx(
        (0.25 + 4.0) / 2)
    assert model.gan_loss(logits, 0.0).item() == pytest.approx(
        (0.25 + 1.0) / 2)
    vanilla = build_translator(gan_loss='vanilla')
    expected = (torch.log1p(torch.exp(torch.tensor(-0.5))) +
                torch.log1p(torch.exp(torch.tensor(1.0)))) / 2
    assert vanilla.gan_loss(logits, 1.0).item() == pytest.approx(
        expected.item())
    with pytest.raises(ValueError, match='gan_loss'):
        build_translator(gan_loss='wgan')


def test_cycle_identity_and_gan_terms_by_hand():
    model = build_translator(cycle_weight=10.0, identity_weight=0.5)
    src = torch.zeros(1, 3, 4, 4)
    tgt = torch.full((1, 3, 4, 4), 0.5)
    images = dict(s2t=tgt.clone(), t2s=src.clone(),
                  rec_source=src + 0.2, rec_target=tgt - 0.1,
                  idt_source=src + 0.3, idt_target=tgt + 0.4)
    discs = FixedDiscriminators(target=torch.tensor([1.0, 0.0]),
                                source=torch.tensor([0.5]))
    terms = model.generator_losses(src, tgt, images, discs)
    expected = {
        'gen.loss_gan_s2t': (0 + 1) / 2,  # mean((D - 1)^2)
        'gen.loss_gan_t2s': 0.25,
        'gen.loss_cycle_source': 10 * 0.2,
        'gen.loss_cycle_target': 10 * 0.1,
        'gen.loss_identity_source': 10 * 0.5 * 0.3,
        'gen.loss_identity_target': 10 * 0.5 * 0.4,
    }
    assert set(terms) == set(expected)  # no perceptual segmentor
    for key, value in expected.items():
        assert terms[key].item() == pytest.approx(value, rel=1e-5), key


def test_perceptual_terms_by_hand(tmp_path):
    config, checkpoint, _ = write_tiny_segmentor(str(tmp_path))
    model = build_translator(
        perceptual_segmentor=dict(config=config, checkpoint=checkpoint))
    seg = model.perceptual_segmentor
    torch.manual_seed(0)
    src, tgt = (torch.rand(1, 3, 32, 32) * 2 - 1 for _ in range(2))
    images = {k: (torch.rand(1, 3, 32, 32) * 2 - 1) for k in (
        's2t', 't2s', 'rec_source', 'rec_target')}

    def sem(x):
        return seg(unit_rgb_to_segmentor_input(x), mode='tensor')

    discs = FixedDiscriminators(target=torch.ones(1), source=torch.ones(1))
    terms = model.generator_losses(src, tgt, images, discs)
    expected = {
        'gen.loss_sem_rec_source':
        10 * perceptual_distance(sem(images['rec_source']), sem(src)),
        'gen.loss_sem_rec_target':
        10 * perceptual_distance(sem(images['rec_target']), sem(tgt)),
        'gen.loss_sem_s2t': 0.1 * perceptual_distance(sem(images['s2t']),
                                                      sem(src)),
        'gen.loss_sem_t2s': 0.1 * perceptual_distance(sem(images['t2s']),
                                                      sem(tgt)),
    }
    for key, value in expected.items():
        assert terms[key].item() == pytest.approx(value.item(),
                                                  rel=1e-5), key
        assert value.item() > 0
    with pytest.raises(KeyError, match='perceptual_segmentor'):
        build_translator(perceptual_segmentor=dict(cfg=config))


def _batch(seed, n=2, size=32):
    g = torch.Generator().manual_seed(seed)

    def domain():
        return dict(inputs=[torch.randint(0, 256, (3, size, size),
                                          generator=g, dtype=torch.uint8)
                            for _ in range(n)],
                    data_samples=[SegDataSample() for _ in range(n)])

    return dict(source=domain(), target=domain())


def _params(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def _changed(before, module):
    return {k for k, v in module.named_parameters()
            if not torch.equal(before[k], v.detach())}


def test_train_step_optimizers_and_frozen_segmentor(tmp_path):
    config, checkpoint, _ = write_tiny_segmentor(str(tmp_path))
    torch.manual_seed(0)
    model = build_translator(
        perceptual_segmentor=dict(config=config, checkpoint=checkpoint))
    model.train()
    seg = model.perceptual_segmentor
    assert not seg.training  # stays in eval mode under model.train()
    # out of the state dict and the parameters the optimizers see
    assert all(k.split('.')[0] in ('generators', 'discriminators', 'pools')
               for k in model.state_dict())
    seg_ids = {id(p) for p in seg.parameters()}
    assert not seg_ids & {id(p) for p in model.parameters()}

    gen_optim = OptimWrapper(torch.optim.Adam(
        model.generators.parameters(), lr=1e-2, betas=(0.5, 0.999)))
    disc_optim = OptimWrapper(torch.optim.Adam(
        model.discriminators.parameters(), lr=1e-2, betas=(0.5, 0.999)))
    wrappers = OptimWrapperDict(generators=gen_optim,
                                discriminators=disc_optim)
    seg_before = {k: v.clone() for k, v in seg.state_dict().items()}
    gens, discs = _params(model.generators), _params(model.discriminators)

    # the generator step must leave the discriminators untouched: record
    # both networks right after it, before the discriminator step
    after_gen = {}
    step = disc_optim.step

    def spy(**kwargs):
        after_gen['discs'] = _changed(discs, model.discriminators)
        after_gen['gens'] = _changed(gens, model.generators)
        gens_now = _params(model.generators)
        step(**kwargs)
        after_gen['gens_by_disc'] = _changed(gens_now, model.generators)

    disc_optim.step = spy
    log_vars = model.train_step(_batch(0), wrappers)

    for key in ('gen.loss_gan_s2t', 'gen.loss_gan_t2s',
                'gen.loss_cycle_source', 'gen.loss_cycle_target',
                'gen.loss_identity_source', 'gen.loss_identity_target',
                'gen.loss_sem_rec_source', 'gen.loss_sem_rec_target',
                'gen.loss_sem_s2t', 'gen.loss_sem_t2s', 'disc.loss_target',
                'disc.loss_source'):
        assert key in log_vars and torch.isfinite(log_vars[key]), key
    assert after_gen['discs'] == set()  # generator step: D untouched
    assert after_gen['gens'] == set(gens)  # every generator weight moved
    assert after_gen['gens_by_disc'] == set()  # D step: G untouched
    assert _changed(discs, model.discriminators) == set(discs)
    # the frozen segmentor: no gradient, no update, still frozen
    assert all(p.grad is None and not p.requires_grad
               for p in seg.parameters())
    for key, value in seg.state_dict().items():
        assert torch.equal(value, seg_before[key]), key
    assert all(p.requires_grad for p in model.discriminators.parameters())
    assert len(model.pools['target'].images) == 2


def test_translate_any_size_and_pictures(tmp_path):
    config, checkpoint, _ = write_tiny_segmentor(str(tmp_path))
    model = build_translator(
        perceptual_segmentor=dict(config=config, checkpoint=None)).eval()
    x = torch.rand(1, 3, 30, 37) * 2 - 1
    with torch.no_grad():
        out = model.translate(x, 'source_to_target')
        assert out.shape == x.shape
        torch.testing.assert_close(model(x), out)
    with pytest.raises(ValueError, match='direction'):
        model.translate(x, 'sideways')
    with pytest.raises(ValueError, match='tensor'):
        model(x, mode='loss')
    pictures = model.translation_pictures(x)
    assert set(pictures['images']) == {'input', 'translated',
                                       'reconstructed'}
    for name, pred in pictures['predictions'].items():
        assert pred.shape == (1, 30, 37), name
        assert pred.max() < 19


def test_discriminator_step_by_hand():
    """With pool size 0 (the fakes of this step), the discriminator step is
    CycleGAN's ``backward_D_basic`` for each domain: LS-GAN
    0.5 * (mean((D(real) - 1)^2) + mean(D(G(x).detach())^2)), with the
    fakes the generators made before their own update; then one SGD step of
    the discriminators."""
    torch.manual_seed(0)
    model = build_translator(pool_size=0)
    model.train()
    reference = copy.deepcopy(model)
    lr = 0.1
    wrappers = OptimWrapperDict(
        generators=OptimWrapper(torch.optim.SGD(
            model.generators.parameters(), lr=lr)),
        discriminators=OptimWrapper(torch.optim.SGD(
            model.discriminators.parameters(), lr=lr)))
    batch = _batch(3)
    log_vars = model.train_step(copy.deepcopy(batch), wrappers)

    def unit_rgb(domain):  # the preprocessor: BGR -> RGB, [0, 255] -> [-1, 1]
        return torch.stack([x.flip(0).float() / 127.5 - 1.0
                            for x in batch[domain]['inputs']])

    real = dict(source=unit_rgb('source'), target=unit_rgb('target'))
    with torch.no_grad():
        fake = dict(
            target=reference.generators['source_to_target'](real['source']),
            source=reference.generators['target_to_source'](real['target']))
    total = 0
    for domain in ('target', 'source'):
        disc = reference.discriminators[domain]
        loss = 0.5 * (((disc(real[domain]) - 1)**2).mean() +
                      (disc(fake[domain])**2).mean())
        torch.testing.assert_close(log_vars[f'disc.loss_{domain}'],
                                   loss.detach(), rtol=1e-5, atol=1e-6)
        total = total + loss
    total.backward()
    for name, param in reference.discriminators.named_parameters():
        expected = param.detach() - lr * param.grad
        torch.testing.assert_close(
            dict(model.discriminators.named_parameters())[name].detach(),
            expected, rtol=1e-4, atol=1e-6, msg=name)
