"""AdvEnt and MinEnt train_step against a re-statement of ADVENT's loops
(advent/domain_adaptation/train_UDA.py: train_advent, train_minent)."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import mmseg_uda  # noqa: F401
from .test_adversarial_uda_segmentor import (D_LR, MEAN, SEG_LR, STD, _batch,
                                             _head, _optim)


def _model(method):
    segmentor = dict(
        type='UDAEncoderDecoder',
        backbone=dict(type='DeepLabV2ResNet', depth=18, stem_channels=8,
                      base_channels=8, style='pytorch', init_cfg=None),
        decode_head=_head(64, 1, 1.0),
        auxiliary_head=_head(32, 0, 0.1),
        test_cfg=dict(mode='whole'))
    preprocessor = dict(type='UDASegDataPreProcessor', mean=MEAN, std=STD,
                        bgr_to_rgb=False, size_divisor=1)
    if method == 'advent':
        cfg = dict(type='AdvEntUDASegmentor',
                   discriminator=dict(type='FCDiscriminator',
                                      base_channels=4),
                   adv_weights=dict(main=0.001, aux=0.0002))
    else:
        cfg = dict(type='MinEntUDASegmentor',
                   ent_weights=dict(main=0.001, aux=0.0002))
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(dict(cfg, segmentor=segmentor,
                              data_preprocessor=preprocessor))
    model.init_weights()
    return model


def _seg_optim(model):
    """MinEnt: the segmentor's optimizer only."""
    return build_optim_wrapper(model, dict(
        constructor='MultiOptimWrapperConstructor',
        segmentor=dict(
            type='OptimWrapper',
            optimizer=dict(type='SGD', lr=SEG_LR, momentum=0.9,
                           weight_decay=5e-4),
            paramwise_cfg=dict(custom_keys={
                'decode_head': dict(lr_mult=10.0),
                'auxiliary_head': dict(lr_mult=10.0)}))))


def _prob_2_entropy(prob):
    """ADVENT's weighted self-information map, re-stated."""
    c = prob.shape[1]
    return -torch.mul(prob, torch.log2(prob + 1e-30)) / math.log2(c)


def _entropy_loss(prob):
    """ADVENT's entropy loss, re-stated."""
    n, c, h, w = prob.shape
    return -torch.sum(torch.mul(prob, torch.log2(prob + 1e-30))) / (
        n * h * w * math.log2(c))


def _advent_iteration(model, batch, method):
    """One iteration of train_advent / train_minent with plain torch."""
    seg = model.segmentor
    heads = {'aux': seg.auxiliary_head, 'main': seg.decode_head}
    head_params = [p for h in heads.values() for p in h.parameters()]
    backbone_params = [p for p in seg.backbone.parameters()
                       if p.requires_grad]
    opt = torch.optim.SGD([{'params': backbone_params, 'lr': SEG_LR},
                           {'params': head_params, 'lr': 10 * SEG_LR}],
                          lr=SEG_LR, momentum=0.9, weight_decay=5e-4)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)

    def images(domain):
        return (torch.stack(batch[domain]['inputs']).float() - mean) / std

    def preds(x):
        feats = seg.backbone(x)
        return {k: F.interpolate(h(feats), size=x.shape[2:],
                                 mode='bilinear', align_corners=True)
                for k, h in heads.items()}

    def bce(out, label):
        return F.binary_cross_entropy_with_logits(
            out, torch.full_like(out, label))

    logs = {}
    opt.zero_grad()
    if method == 'advent':
        discs = model.discriminators
        opt_d = {k: torch.optim.Adam(d.parameters(), lr=D_LR,
                                     betas=(0.9, 0.99))
                 for k, d in discs.items()}
        for o in opt_d.values():
            o.zero_grad()
        for p in discs.parameters():
            p.requires_grad = False
    # train on source
    pred_s = preds(images('source'))
    labels = torch.stack([s.gt_sem_seg.data[0]
                          for s in batch['source']['data_samples']])
    logs['src.main.loss_ce'] = F.cross_entropy(pred_s['main'], labels,
                                               ignore_index=255)
    logs['src.aux.loss_ce'] = 0.1 * F.cross_entropy(
        pred_s['aux'], labels, ignore_index=255)
    (logs['src.main.loss_ce'] + logs['src.aux.loss_ce']).backward()
    # target
    pred_t = preds(images('target'))
    weights = dict(main=0.001, aux=0.0002)
    if method == 'minent':
        for level in ('aux', 'main'):
            logs[f'tgt.{level}.loss_ent'] = weights[level] * _entropy_loss(
                F.softmax(pred_t[level], dim=1))
        (logs['tgt.aux.loss_ent'] + logs['tgt.main.loss_ent']).backward()
        opt.step()
        return logs
    for level in ('aux', 'main'):
        d_out = discs[level](_prob_2_entropy(F.softmax(pred_t[level],
                                                       dim=1)))
        logs[f'tgt.{level}.loss_adv'] = weights[level] * bce(d_out, 0.)
    (logs['tgt.aux.loss_adv'] + logs['tgt.main.loss_adv']).backward()
    # discriminators on detached source (0) then target (1)
    for p in discs.parameters():
        p.requires_grad = True
    for domain, pred, label in (('src', pred_s, 0.), ('tgt', pred_t, 1.)):
        for level in ('aux', 'main'):
            d_out = discs[level](_prob_2_entropy(
                F.softmax(pred[level].detach(), dim=1)))
            loss_d = bce(d_out, label) / 2
            logs[f'disc.{level}.loss_{domain}'] = loss_d
            loss_d.backward()
    opt.step()
    for o in opt_d.values():
        o.step()
    return logs


@pytest.mark.parametrize('method', ['advent', 'minent'])
def test_train_step_matches_advent_loop(method):
    model = _model(method)
    reference = copy.deepcopy(model)
    batch = _batch(seed=2)
    optim = _optim(model) if method == 'advent' else _seg_optim(model)
    logs = model.train_step(copy.deepcopy(batch), optim)
    expected = _advent_iteration(reference, batch, method)

    assert set(expected) <= set(logs)
    for key, value in expected.items():
        torch.testing.assert_close(logs[key], value.detach(), rtol=1e-4,
                                   atol=1e-7, msg=key)
    ours = model.state_dict()
    for name, value in reference.state_dict().items():
        torch.testing.assert_close(ours[name], value, rtol=1e-4, atol=1e-7,
                                   msg=name)
    before = _model(method).state_dict()
    assert not torch.allclose(before['segmentor.decode_head.convs.0.weight'],
                              ours['segmentor.decode_head.convs.0.weight'])
    if method == 'advent':
        assert not torch.allclose(
            before['discriminators.aux.convs.0.weight'],
            ours['discriminators.aux.convs.0.weight'])
    else:
        assert not any(k.startswith('discriminators') for k in ours)
        # the entropy term really enters the update: weight 0 differs
        model0 = _model(method)
        model0.ent_weights = dict(main=0.0, aux=0.0)
        model0.train_step(copy.deepcopy(batch), _seg_optim(model0))
        assert not torch.allclose(
            model0.state_dict()['segmentor.backbone.conv1.weight'],
            ours['segmentor.backbone.conv1.weight'])


def test_advent_discriminator_sees_self_information():
    model = _model('advent')
    logits = torch.tensor([[1000.0, 0.0, 0.0, 0.0],
                           [0.0, 0.0, 0.0, 0.0]]).t().reshape(1, 4, 1, 2)
    info = model.discriminator_input(logits)
    torch.testing.assert_close(info[0, :, 0, 0], torch.zeros(4))
    torch.testing.assert_close(info[0, :, 0, 1], torch.full((4, ), 0.25))


def test_minent_refuses_missing_levels():
    seg_cfg = dict(
        type='UDAEncoderDecoder',
        backbone=dict(type='DeepLabV2ResNet', depth=18, stem_channels=8,
                      base_channels=8, style='pytorch', init_cfg=None),
        decode_head=_head(64, 1, 1.0))
    init_default_scope('mmseg')
    with pytest.raises(ValueError, match='ent_weights'):
        MODELS.build(dict(type='MinEntUDASegmentor', segmentor=seg_cfg,
                          ent_weights=dict(main=0.001, aux=0.0002)))
    model = MODELS.build(dict(type='MinEntUDASegmentor', segmentor=seg_cfg,
                              ent_weights=dict(main=0.001)))
    assert model.ent_weights == dict(main=0.001)


def test_minent_refuses_an_unadapted_auxiliary_head():
    seg_cfg = dict(
        type='UDAEncoderDecoder',
        backbone=dict(type='DeepLabV2ResNet', depth=18, stem_channels=8,
                      base_channels=8, style='pytorch', init_cfg=None),
        decode_head=_head(64, 1, 1.0),
        auxiliary_head=_head(32, 0, 0.1))
    init_default_scope('mmseg')
    with pytest.raises(ValueError, match=r"levels \['aux'\].*ent_weights"):
        MODELS.build(dict(type='MinEntUDASegmentor', segmentor=seg_cfg,
                          ent_weights=dict(main=0.001)))
