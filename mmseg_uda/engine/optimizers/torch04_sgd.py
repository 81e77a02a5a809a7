"""SGD as PyTorch 0.4 applied it over a listing with repeated parameters."""
from typing import Callable, Iterable, Optional, Union

import torch
from mmseg.registry import OPTIMIZERS
from torch import Tensor
from torch.optim import Optimizer


@OPTIMIZERS.register_module()
class Torch04SGD(Optimizer):
    """PyTorch 0.4's SGD, applied ``multiplicity`` times per parameter.

    The DeepLab-v2 UDA originals (AdaptSegNet, ADVENT, IntraDA, BDL) list
    every backbone parameter once per module on its path, and PyTorch 0.4's
    SGD updated a parameter once per listing. Each listing did, in order:

    1. ``d_p += weight_decay * p`` (in place, so the decay terms accumulate
       over the listings of one step);
    2. the momentum buffer update: created on the very first listing as a
       copy of ``d_p``, afterwards ``buf = momentum * buf +
       (1 - dampening) * d_p`` (with Nesterov, ``d_p + momentum * buf`` is
       the step direction, otherwise ``buf``);
    3. ``p -= lr * direction``.

    A parameter's update depends only on its own gradient, buffer and value,
    so repeating this loop ``multiplicity`` times per parameter equals the
    original interleaved listing. Parameters are held once each, so
    :meth:`state_dict` and :meth:`load_state_dict` work as usual, and the
    multiplicities travel with the param groups.

    With every multiplicity 1 this is plain SGD (as ``torch.optim.SGD``).
    Unlike PyTorch 0.4, ``p.grad`` itself is left untouched: the decay
    accumulates in a private copy of the gradient.

    Args:
        params (iterable): Parameters or param-group dicts. A group may hold
            ``multiplicities``, a list of positive ints aligned with its
            ``params``; it defaults to all ones.
        lr (float): Learning rate.
        momentum (float): Momentum factor. Defaults to 0.
        dampening (float): Dampening of the momentum (not applied on the
            first listing, which copies ``d_p``). Defaults to 0.
        weight_decay (float): L2 penalty added to the gradient on every
            listing. Defaults to 0.
        nesterov (bool): Nesterov momentum. Defaults to False.
    """

    def __init__(self,
                 params: Iterable[Union[Tensor, dict]],
                 lr: float,
                 momentum: float = 0,
                 dampening: float = 0,
                 weight_decay: float = 0,
                 nesterov: bool = False) -> None:
        if lr < 0:
            raise ValueError(f'Invalid learning rate: {lr}')
        if momentum < 0:
            raise ValueError(f'Invalid momentum value: {momentum}')
        if weight_decay < 0:
            raise ValueError(f'Invalid weight_decay value: {weight_decay}')
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                'Nesterov momentum requires a momentum and zero dampening')
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov)
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        """Add a param group, defaulting its ``multiplicities`` to ones.

        Args:
            param_group (dict): The group: ``params`` and optional options,
                ``multiplicities`` included.
        """
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        if group.get('multiplicities') is None:
            group['multiplicities'] = [1] * len(group['params'])
        else:
            group['multiplicities'] = list(group['multiplicities'])
        self._check_multiplicities(group)

    @staticmethod
    def _check_multiplicities(group: dict) -> None:
        """Raise if ``multiplicities`` does not fit ``params``."""
        multiplicities = group['multiplicities']
        if len(multiplicities) != len(group['params']):
            raise ValueError(
                f'multiplicities has {len(multiplicities)} entries for '
                f'{len(group["params"])} params in a param group')
        for m in multiplicities:
            if isinstance(m, bool) or not isinstance(m, int) or m < 1:
                raise ValueError(
                    f'multiplicities must be positive ints, got {m!r}')

    @torch.no_grad()
    def step(self,
             closure: Optional[Callable[[], float]] = None
             ) -> Optional[float]:
        """Update every parameter once per listing.

        Args:
            closure (callable, optional): Re-evaluates the model and returns
                the loss.

        Returns:
            float, optional: The loss returned by ``closure``.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._check_multiplicities(group)
            for param, multiplicity in zip(group['params'],
                                           group['multiplicities']):
                if param.grad is None:
                    continue
                if param.grad.is_sparse:
                    raise RuntimeError('Torch04SGD does not support sparse '
                                       'gradients')
                self._update(param, multiplicity, group)
        return loss

    def _update(self, param: Tensor, multiplicity: int, group: dict) -> None:
        """Apply the PyTorch 0.4 SGD loop ``multiplicity`` times."""
        lr = group['lr']
        momentum = group['momentum']
        dampening = group['dampening']
        weight_decay = group['weight_decay']
        nesterov = group['nesterov']
        state = self.state[param]
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
                if nesterov:
                    direction = d_p.add(buf, alpha=momentum)
                else:
                    direction = buf
            param.add_(direction, alpha=-lr)
