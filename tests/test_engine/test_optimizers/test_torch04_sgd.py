"""Torch04SGD: PyTorch 0.4's SGD applied per listing of a parameter."""
import copy

import pytest
import torch

from mmseg_uda.engine.optimizers.torch04_sgd import Torch04SGD
from tests.reference.op_count import count_ops


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
