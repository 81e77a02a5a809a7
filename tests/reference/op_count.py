"""Count the tensor operations a call dispatches (its GPU kernel launches,
roughly): per-parameter Python loops show up as counts that grow with the
number of parameters, ``_foreach`` operations as constant counts."""
from collections import Counter
from typing import Callable

from torch.utils._python_dispatch import TorchDispatchMode


class _OpCounter(TorchDispatchMode):

    def __init__(self) -> None:
        super().__init__()
        self.ops = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        # only the outermost call is seen: a _foreach op counts once
        self.ops[str(func.overloadpacket)] += 1
        return func(*args, **(kwargs or {}))


def count_ops(fn: Callable[[], object]) -> Counter:
    """Operations dispatched by ``fn()``, by name."""
    counter = _OpCounter()
    with counter:
        fn()
    return counter.ops
