"""OriginalsListingOptimWrapperConstructor: the originals' repeated
parameter listing, stepped by Torch04SGD."""
import copy
from collections import Counter

import pytest
import torch
import torch.nn as nn

from mmseg_uda.engine.optimizers import (
    MultiOptimWrapperConstructor, OriginalsListingOptimWrapperConstructor,
    originals_listing_multiplicity)
from mmseg_uda.engine.optimizers.torch04_sgd import Torch04SGD
from mmseg_uda.utils.original_deeplabv2 import convert_original_deeplabv2
from tests.reference.models import build_deeplabv2, load_config
from tests.reference.original_deeplabv2 import OriginalResNetMulti

LR, MOMENTUM, WD = 0.05, 0.9, 0.01


def frozen_bn(channels: int) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(channels)
    for p in bn.parameters():
        p.requires_grad = False
    return bn


class Block(nn.Module):

    def __init__(self, channels: int, downsample: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, bias=False)
        self.bn1 = frozen_bn(channels)
        self.conv2 = nn.Conv2d(channels, channels, 1, bias=True)
        if downsample:
            self.downsample = nn.Sequential(
                nn.Conv2d(channels, channels, 1, bias=False),
                frozen_bn(channels))


class Backbone(nn.Module):

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 2, 3, bias=False)
        self.bn1 = frozen_bn(2)
        self.layer1 = nn.Sequential(Block(2, True), Block(2, False))


class Segmentor(nn.Module):

    def __init__(self) -> None:
        super().__init__()
        self.backbone = Backbone()
        self.decode_head = nn.Conv2d(2, 3, 3)


class Container(nn.Module):

    def __init__(self) -> None:
        super().__init__()
        self.segmentor = Segmentor()


def originals_listing(segmentor: Segmentor) -> list:
    """(param, lr) as AdaptSegNet's ``optim_parameters`` lists them."""
    listing = []
    # get_1x_lr_params_NOscale: every module of every backbone stage yields
    # all parameters under it.
    for stage in segmentor.backbone.children():
        for module in stage.modules():
            for param in module.parameters():
                if param.requires_grad:
                    listing.append((param, LR))
    # get_10x_lr_params: the classifier once, at 10x lr.
    for param in segmentor.decode_head.parameters():
        listing.append((param, 10 * LR))
    return listing


def torch04_sgd_step(listing: list, buffers: dict) -> None:
    """PyTorch 0.4's SGD step loop over a listing (dampening 0)."""
    with torch.no_grad():
        for param, lr in listing:
            d_p = param.grad
            d_p.add_(param, alpha=WD)  # in place: accumulates
            if id(param) not in buffers:
                buffers[id(param)] = d_p.clone()
            else:
                buffers[id(param)].mul_(MOMENTUM).add_(d_p)
            param.sub_(lr * buffers[id(param)])


def build_segmentor_wrapper(model: Container, originals_listing: bool):
    cfg = dict(
        segmentor=dict(
            type='OptimWrapper',
            optimizer=dict(
                type='SGD', lr=LR, momentum=MOMENTUM, weight_decay=WD),
            paramwise_cfg=dict(
                custom_keys={'decode_head': dict(lr_mult=10.)})))
    if originals_listing:
        cfg['segmentor']['constructor'] = \
            'OriginalsListingOptimWrapperConstructor'
    return MultiOptimWrapperConstructor(cfg)(model)['segmentor']


def test_multiplicity_from_names():
    assert originals_listing_multiplicity('backbone.conv1.weight') == 1
    assert originals_listing_multiplicity(
        'backbone.layer1.0.conv1.weight') == 3
    assert originals_listing_multiplicity(
        'backbone.layer1.0.downsample.0.weight') == 4
    assert originals_listing_multiplicity('decode_head.convs.0.weight') == 1
    assert originals_listing_multiplicity('auxiliary_head.conv.bias') == 1


def test_matches_torch04_sgd_over_the_duplicated_listing():
    torch.manual_seed(0)
    model = Container()
    reference = copy.deepcopy(model.segmentor)
    nominal_model = copy.deepcopy(model)
    wrapper = build_segmentor_wrapper(model, originals_listing=True)
    nominal = build_segmentor_wrapper(nominal_model, originals_listing=False)
    plain = dict(nominal_model.segmentor.named_parameters())
    assert isinstance(wrapper.optimizer, Torch04SGD)

    listing = originals_listing(reference)
    names = {id(p): n for n, p in reference.named_parameters()}
    listed = Counter(names[id(p)] for p, _ in listing)
    # The walk really repeats parameters (otherwise the test is vacuous).
    assert listed['backbone.conv1.weight'] == 1
    assert listed['backbone.layer1.1.conv2.bias'] == 3
    assert listed['backbone.layer1.0.downsample.0.weight'] == 4
    # Every group's multiplicities equal the listing counts.
    ours = dict(model.segmentor.named_parameters())
    got = {}
    for group in wrapper.optimizer.param_groups:
        for p, m in zip(group['params'], group['multiplicities']):
            name = next(n for n, q in ours.items() if q is p)
            got[name] = m
            expected_lr = 10 * LR if name.startswith('decode_head') else LR
            assert group['lr'] == pytest.approx(expected_lr)
    assert got == dict(listed)

    buffers = {}
    for _ in range(3):
        for name, p in reference.named_parameters():
            if p.requires_grad:
                grad = torch.randn_like(p)
                p.grad = grad.clone()
                ours[name].grad = grad.clone()
                plain[name].grad = grad.clone()
        torch04_sgd_step(listing, buffers)
        wrapper.step()
        nominal.step()
    for name, p in reference.named_parameters():
        torch.testing.assert_close(ours[name], p, rtol=1e-5, atol=1e-7)
    # Listed once (head, stem), a parameter moves as with plain SGD;
    # repeated, it moves differently (so the comparison is not vacuous).
    for name in ('decode_head.weight', 'backbone.conv1.weight'):
        torch.testing.assert_close(ours[name], plain[name])
    for name in ('backbone.layer1.0.conv1.weight',
                 'backbone.layer1.0.downsample.0.weight'):
        assert not torch.allclose(ours[name], plain[name], rtol=1e-3)


def test_nominal_switch_gives_plain_sgd():
    wrapper = build_segmentor_wrapper(Container(), originals_listing=False)
    assert type(wrapper.optimizer) is torch.optim.SGD
    lrs = sorted({g['lr'] for g in wrapper.optimizer.param_groups})
    assert lrs == pytest.approx([LR, 10 * LR])


def adaptsegnet_optim_parameters(net: OriginalResNetMulti) -> list:
    """(param, lr multiple) in the order AdaptSegNet's
    ``ResNetMulti.optim_parameters`` yields them (wasidennis/AdaptSegNet,
    ``model/deeplab_multi.py``: ``get_1x_lr_params_NOscale`` walks
    ``modules()`` of conv1, bn1 and layer1-4 and yields every trainable
    ``parameters()`` of each module; ``get_10x_lr_params`` yields layer5
    and layer6 once)."""
    listing = []
    for stage in (net.conv1, net.bn1, net.layer1, net.layer2, net.layer3,
                  net.layer4):
        for module in stage.modules():
            for param in module.parameters():
                if param.requires_grad:
                    listing.append((param, 1))
    for classifier in (net.layer5, net.layer6):
        for param in classifier.parameters():
            listing.append((param, 10))
    return listing


def test_listing_counts_of_the_real_r101_match_the_originals_walk():
    """On the shipped DeepLab-v2 R101 with the shipped segmentor optimizer,
    every parameter's multiplicity and lr are those of AdaptSegNet's walk
    over the original network (mapped to our names by the converter)."""
    original = OriginalResNetMulti()
    listing = adaptsegnet_optim_parameters(original)
    converted, _ = convert_original_deeplabv2(
        original.state_dict(keep_vars=True))
    our_name = {id(v): k for k, v in converted.items()}
    expected = Counter(our_name[id(p)] for p, _ in listing)
    expected_lr = {our_name[id(p)]: mult for p, mult in listing}

    segmentor = build_deeplabv2()
    shipped = load_config(
        'configs/adaptseg/deeplabv2_r101_gta2cs.py').optim_wrapper.segmentor
    wrapper = OriginalsListingOptimWrapperConstructor(
        dict(type='OptimWrapper', optimizer=shipped.optimizer),
        shipped.paramwise_cfg)(segmentor)
    assert isinstance(wrapper.optimizer, Torch04SGD)
    names = {id(p): n for n, p in segmentor.named_parameters()}
    base_lr = shipped.optimizer.lr
    got, got_lr = {}, {}
    for group in wrapper.optimizer.param_groups:
        for param, mult in zip(group['params'], group['multiplicities']):
            if not param.requires_grad:  # frozen BN: never updated
                continue
            got[names[id(param)]] = mult
            got_lr[names[id(param)]] = group['lr'] / base_lr
    assert got == dict(expected)
    assert got_lr == pytest.approx(expected_lr)
    # the walk over the 101 layers: 3 listings per block conv, 4 per
    # downsample conv, 1 for the stem and each classifier conv
    assert sum(got.values()) == len(listing)
    assert Counter(got.values()) == Counter({3: 99, 4: 4, 1: 1 + 16})
