"""Type and range checks of numeric options, with the option's name.

A wrong value given on the command line (``--cfg-options
model.adv_weights.main=abc``) otherwise travels into the first training
step and fails there with a message that names nothing.
"""
import math
import numbers
from typing import Any, Optional


def check_number(value: Any, name: str, low: Optional[float] = None,
                 high: Optional[float] = None) -> float:
    """Return ``value`` as a float if it is a finite number in range.

    Args:
        value (Any): The option's value.
        name (str): The option's name (e.g. ``adv_weights.main``).
        low (float, optional): Smallest allowed value.
        high (float, optional): Largest allowed value.

    Returns:
        float: The value.

    Raises:
        TypeError: If ``value`` is not a real number (a bool, a string and
            a list are not).
        ValueError: If it is not finite or out of range.
    """
    bounds = [f'>= {low}' if low is not None else None,
              f'<= {high}' if high is not None else None]
    wanted = ' and '.join(b for b in bounds if b) or 'finite'
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f'{name} must be a number ({wanted}), got '
                        f'{value!r} ({type(value).__name__})')
    if not math.isfinite(value) or (low is not None and value < low) or \
            (high is not None and value > high):
        raise ValueError(f'{name} must be a number {wanted}, got {value!r}')
    return float(value)


def check_weight(value: Any, name: str) -> float:
    """A loss weight: a finite number >= 0 (see :func:`check_number`)."""
    return check_number(value, name, low=0)
