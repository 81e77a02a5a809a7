"""Torch04SGD and the originals' repeated parameter listing."""
import copy
from collections import Counter

import pytest
import torch
import torch.nn as nn

from mmseg_uda.engine.optimizers.multi_optim_wrapper_constructor import (
    MultiOptimWrapperConstructor, originals_listing_multiplicity)
from mmseg_uda.engine.optimizers.torch04_sgd import Torch04SGD
from mmseg_uda.utils.original_deeplabv2 import convert_original_deeplabv2
from tests.reference.models import build_deeplabv2, load_config
from tests.reference.original_deeplabv2 import OriginalResNetMulti
from tests.reference.op_count import count_ops

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
                custom_keys={'decode_head': dict(lr_mult=10.)}),
            originals_listing=originals_listing))
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


@pytest.mark.parametrize('kwargs', [
    dict(momentum=0.9, weight_decay=5e-4),
    dict(momentum=0.9, dampening=0.3, weight_decay=1e-2),
    dict(momentum=0.8, nesterov=True, weight_decay=1e-3),
    dict(momentum=0.0, weight_decay=1e-2),
])
def test_multiplicity_one_equals_torch_sgd(kwargs):
    torch.manual_seed(1)
    params = [torch.randn(4, 3), torch.randn(5)]
    ours = [p.clone().requires_grad_() for p in params]
    theirs = [p.clone().requires_grad_() for p in params]
    opt_ours = Torch04SGD([{'params': ours[:1]}, {'params': ours[1:],
                                                  'lr': 0.3}],
                          lr=0.1, **kwargs)
    opt_theirs = torch.optim.SGD([{'params': theirs[:1]},
                                  {'params': theirs[1:], 'lr': 0.3}],
                                 lr=0.1, **kwargs)
    assert opt_ours.param_groups[0]['multiplicities'] == [1]
    for _ in range(4):
        for a, b in zip(ours, theirs):
            grad = torch.randn_like(a)
            a.grad, b.grad = grad.clone(), grad.clone()
        opt_ours.step()
        opt_theirs.step()
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b)


def test_multiplicity_two_by_hand():
    p = torch.tensor([1.0], requires_grad=True)
    opt = Torch04SGD([{'params': [p], 'multiplicities': [2]}], lr=0.1,
                     momentum=0.5, weight_decay=0.1)
    p.grad = torch.tensor([2.0])
    opt.step()
    # Listing 1: d = 2 + 0.1 * 1 = 2.1; buf = 2.1; p = 1 - 0.21 = 0.79.
    # Listing 2: d = 2.1 + 0.1 * 0.79 = 2.179; buf = 1.05 + 2.179 = 3.229;
    #            p = 0.79 - 0.3229 = 0.4671.
    torch.testing.assert_close(p.detach(), torch.tensor([0.4671]))
    torch.testing.assert_close(opt.state[p]['momentum_buffer'],
                               torch.tensor([3.229]))
    # The gradient itself is left untouched.
    assert p.grad.item() == 2.0


def test_state_dict_round_trip_continues_identically():
    torch.manual_seed(2)
    init = [torch.randn(3, 2), torch.randn(2)]
    grads = [[torch.randn_like(p) for p in init] for _ in range(4)]

    def make(params):
        return Torch04SGD([{'params': params[:1], 'multiplicities': [3]},
                           {'params': params[1:], 'lr': 0.02}],
                          lr=0.01, momentum=0.9, weight_decay=1e-2)

    straight = [p.clone().requires_grad_() for p in init]
    opt = make(straight)
    for step_grads in grads:
        for p, g in zip(straight, step_grads):
            p.grad = g.clone()
        opt.step()

    first = [p.clone().requires_grad_() for p in init]
    opt = make(first)
    for step_grads in grads[:2]:
        for p, g in zip(first, step_grads):
            p.grad = g.clone()
        opt.step()
    state = copy.deepcopy(opt.state_dict())
    assert state['param_groups'][0]['multiplicities'] == [3]

    resumed = [p.detach().clone().requires_grad_() for p in first]
    opt = Torch04SGD(resumed, lr=0.5)
    assert opt.param_groups[0]['multiplicities'] == [1, 1]
    opt = Torch04SGD([{'params': resumed[:1]}, {'params': resumed[1:]}],
                     lr=0.5)
    opt.load_state_dict(state)
    assert opt.param_groups[0]['multiplicities'] == [3]
    assert opt.param_groups[1]['lr'] == 0.02
    for step_grads in grads[2:]:
        for p, g in zip(resumed, step_grads):
            p.grad = g.clone()
        opt.step()
    for a, b in zip(resumed, straight):
        torch.testing.assert_close(a, b)


def test_invalid_multiplicities_and_arguments():
    p = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match='entries'):
        Torch04SGD([{'params': [p], 'multiplicities': [1, 2]}], lr=0.1)
    with pytest.raises(ValueError, match='positive'):
        Torch04SGD([{'params': [p], 'multiplicities': [0]}], lr=0.1)
    with pytest.raises(ValueError, match='Nesterov'):
        Torch04SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match='learning rate'):
        Torch04SGD([p], lr=-1.0)


def per_parameter_update(param, multiplicity, group, state):
    """The per-parameter loop Torch04SGD ran before its ``_foreach``
    version (the reference of bit-identity)."""
    lr, momentum = group['lr'], group['momentum']
    dampening, weight_decay = group['dampening'], group['weight_decay']
    d_p = param.grad.clone()
    for _ in range(multiplicity):
        if weight_decay != 0:
            d_p.add_(param, alpha=weight_decay)
        direction = d_p
        if momentum != 0:
            buf = state.get('momentum_buffer')
            if buf is None:
                buf = d_p.clone()
                state['momentum_buffer'] = buf
            else:
                buf.mul_(momentum).add_(d_p, alpha=1 - dampening)
            direction = d_p.add(buf, alpha=momentum) if group['nesterov'] \
                else buf
        param.add_(direction, alpha=-lr)


def _params_and_grads(num, seed=0):
    gen = torch.Generator().manual_seed(seed)
    shapes = [(3, 2, 3, 3), (5, ), (4, 4), (2, 2, 1, 1)]
    params = [torch.randn(shapes[i % 4], generator=gen) for i in range(num)]
    grads = [[torch.randn(p.shape, generator=gen) for p in params]
             for _ in range(3)]
    return params, grads


@pytest.mark.parametrize('kwargs', [
    dict(momentum=0.9, weight_decay=5e-4),
    dict(momentum=0.9, dampening=0.3, weight_decay=1e-2),
    dict(momentum=0.8, nesterov=True, weight_decay=1e-3),
    dict(momentum=0.0, weight_decay=1e-2),
    dict(momentum=0.9, weight_decay=0.0),
])
def test_foreach_step_is_bit_identical_to_the_per_parameter_loop(kwargs):
    params, grads = _params_and_grads(7)
    mults = [1, 3, 4, 3, 2, 1, 4]
    ours = [p.clone().requires_grad_() for p in params]
    ref = [p.clone() for p in params]
    opt = Torch04SGD([{'params': ours, 'multiplicities': mults}], lr=0.05,
                     **kwargs)
    group = dict(opt.defaults)
    states = [{} for _ in ref]
    for step_grads in grads:
        for i, grad in enumerate(step_grads):
            # one parameter without a gradient in some steps: skipped
            skip = i == 5 and step_grads is grads[1]
            ours[i].grad = None if skip else grad.clone()
            ref[i].grad = None if skip else grad.clone()
        opt.step()
        for p, m, state in zip(ref, mults, states):
            if p.grad is not None:
                per_parameter_update(p, m, group, state)
    for a, b, state in zip(ours, ref, states):
        assert torch.equal(a.detach(), b)
        if kwargs['momentum']:
            assert torch.equal(opt.state[a]['momentum_buffer'],
                               state['momentum_buffer'])


def test_step_launches_do_not_grow_with_the_parameter_count():
    # one operation per listing and kind for the whole group, not one per
    # parameter (each of which is a kernel launch on a GPU)
    def ops_per_step(num):
        params, grads = _params_and_grads(num)
        params = [p.requires_grad_() for p in params]
        opt = Torch04SGD([{'params': params, 'multiplicities':
                           [1 + i % 4 for i in range(num)]}],
                         lr=0.1, momentum=0.9, weight_decay=1e-3)
        for p, g in zip(params, grads[0]):
            p.grad = g
        opt.step()  # creates the momentum buffers
        return sum(count_ops(opt.step).values())

    assert ops_per_step(8) == ops_per_step(40)


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


@pytest.mark.slow
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

    model = nn.Module()
    model.segmentor = build_deeplabv2()
    cfg = load_config(
        'configs/_base_/schedules/schedule_adaptseg_150k.py').optim_wrapper
    wrapper = MultiOptimWrapperConstructor(
        dict(segmentor=cfg.segmentor))(model)['segmentor']
    assert isinstance(wrapper.optimizer, Torch04SGD)
    names = {id(p): n for n, p in model.segmentor.named_parameters()}
    base_lr = cfg.segmentor.optimizer.lr
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
