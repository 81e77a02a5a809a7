"""Stop (or skip) a training step whose loss terms are not finite."""
import logging
from typing import Dict, List

import torch
import torch.distributed as torch_dist
from mmengine.logging import MessageHub, print_log
from torch import Tensor

NONFINITE_MODES = ('error', 'skip')
# Runtime info key of the number of skipped steps (saved in checkpoints with
# the message hub, so a resumed run keeps counting).
SKIPPED_KEY = 'nonfinite_skipped_steps'


class NonFiniteLossError(FloatingPointError):
    """A loss term of a training step is NaN or infinite."""


def _loss_terms(log_vars: Dict[str, Tensor]) -> Dict[str, Tensor]:
    return {k: v for k, v in log_vars.items()
            if 'loss' in k and isinstance(v, Tensor)}


def all_ranks_finite(log_vars: Dict[str, Tensor]) -> bool:
    """Whether every loss term is finite, on every rank.

    One device-to-host synchronisation per call (plus one all-reduce under
    distributed training, so that every rank makes the same decision: a NaN
    on one rank reaches all of them through the gradient all-reduce).

    Args:
        log_vars (dict[str, Tensor]): The step's logged values; the keys
            holding ``loss`` are checked.

    Returns:
        bool: True when all loss terms of all ranks are finite.
    """
    terms = list(_loss_terms(log_vars).values())
    if not terms:
        return True
    finite = torch.stack([torch.isfinite(t).all() for t in terms]).all()
    if torch_dist.is_available() and torch_dist.is_initialized() and \
            torch_dist.get_world_size() > 1:
        flag = finite.to(torch.int32)
        torch_dist.all_reduce(flag, op=torch_dist.ReduceOp.MIN)
        finite = flag.bool()
    return bool(finite)


def nonfinite_terms(log_vars: Dict[str, Tensor]) -> List[str]:
    """Names of the loss terms holding NaN or inf (this rank's)."""
    return sorted(k for k, v in _loss_terms(log_vars).items()
                  if not bool(torch.isfinite(v).all()))


def handle_nonfinite(log_vars: Dict[str, Tensor], mode: str) -> None:
    """Raise, or count and log a skipped step, for non-finite losses.

    Args:
        log_vars (dict[str, Tensor]): The step's logged values.
        mode (str): ``'error'`` raises, ``'skip'`` counts the step in the
            message hub's runtime info and logs a warning.

    Raises:
        NonFiniteLossError: In ``'error'`` mode, naming the iteration
            (1-based, as mmengine's logs) and the non-finite terms.
    """
    hub = MessageHub.get_current_instance()
    iteration = hub.get_info('iter')
    where = 'iteration ?' if iteration is None else \
        f'iteration {iteration + 1}'
    terms = nonfinite_terms(log_vars) or ['(another rank)']
    values = ', '.join(f'{k}={float(log_vars[k].detach().mean()):g}'
                       for k in terms if k in log_vars)
    if mode == 'error':
        raise NonFiniteLossError(
            f'non-finite loss at {where}: {", ".join(terms)} ({values}). '
            'Nothing was stepped. Lower the learning rates, check the data, '
            "or set the model's nonfinite_loss='skip' to skip such steps.")
    skipped = (hub.get_info(SKIPPED_KEY) or 0) + 1
    hub.update_info(SKIPPED_KEY, skipped)
    print_log(
        f'non-finite loss at {where}: {", ".join(terms)} ({values}); step '
        f'skipped, no optimizer stepped ({skipped} skipped so far)',
        logger='current', level=logging.WARNING)
