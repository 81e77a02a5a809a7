"""SGD as PyTorch 0.4 applied it over a listing with repeated parameters."""
from typing import Callable, Dict, Iterable, List, Optional, Tuple, Union

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

        The parameters of a group are updated together with torch's
        ``_foreach`` operations (one kernel launch per operation and
        device/dtype on GPUs instead of one per parameter); the arithmetic
        per element is that of the per-parameter loop (bit-identical on
        CPU, tested).

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
            # (device, dtype) -> [params], [multiplicities]
            buckets: Dict[Tuple, Tuple[List[Tensor], List[int]]] = {}
            for param, multiplicity in zip(group['params'],
                                           group['multiplicities']):
                if param.grad is None:
                    continue
                if param.grad.is_sparse:
                    raise RuntimeError('Torch04SGD does not support sparse '
                                       'gradients')
                params, mults = buckets.setdefault(
                    (param.device, param.dtype), ([], []))
                params.append(param)
                mults.append(multiplicity)
            for params, mults in buckets.values():
                self._update(params, mults, group)
        return loss

    def _update(self, params: List[Tensor], multiplicities: List[int],
                group: dict) -> None:
        """Apply the PyTorch 0.4 SGD loop ``multiplicity`` times to each of
        ``params`` (one device and dtype)."""
        lr = group['lr']
        momentum = group['momentum']
        dampening = group['dampening']
        weight_decay = group['weight_decay']
        nesterov = group['nesterov']
        d_ps = torch._foreach_mul([p.grad for p in params], 1.0)
        for listing in range(max(multiplicities)):
            # the parameters listed at least `listing + 1` times
            idx = [i for i, m in enumerate(multiplicities) if m > listing]
            cur_params = [params[i] for i in idx]
            cur_d_ps = [d_ps[i] for i in idx]
            if weight_decay != 0:
                torch._foreach_add_(cur_d_ps, cur_params, alpha=weight_decay)
            directions = cur_d_ps
            if momentum != 0:
                bufs, fresh = [], []
                for param, d_p in zip(cur_params, cur_d_ps):
                    state = self.state[param]
                    if state.get('momentum_buffer') is None:
                        state['momentum_buffer'] = d_p.clone()
                        fresh.append(True)
                    else:
                        fresh.append(False)
                    bufs.append(state['momentum_buffer'])
                old = [i for i, f in enumerate(fresh) if not f]
                if old:
                    old_bufs = [bufs[i] for i in old]
                    torch._foreach_mul_(old_bufs, momentum)
                    torch._foreach_add_(old_bufs, [cur_d_ps[i] for i in old],
                                        alpha=1 - dampening)
                if nesterov:
                    directions = torch._foreach_add(cur_d_ps, bufs,
                                                    alpha=momentum)
                else:
                    directions = bufs
            torch._foreach_add_(cur_params, directions, alpha=-lr)
