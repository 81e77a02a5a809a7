"""The one way every model of the package steps its optimizer wrappers.

A UDA iteration (AdaptSegNet, ADVENT, BDL, DACS) runs several forward and
backward passes before any optimizer steps: the source loss is backed
before the target images are forwarded, the adversarial loss before the
discriminators are trained. The originals do this to free each graph as
soon as possible (peak memory of one pass, not of all of them), and the
gradients they step with are the sums of those passes. mmengine's
``OptimWrapper.update_params`` (backward, then step) would step after the
first pass. So the models call the wrapper's own ``backward`` (loss
scaling of ``AmpOptimWrapper`` included) inside its ``optim_context``
(autocast, DDP gradient sync), then :func:`step_wrappers` once per
iteration; the translator does the same, one backward per wrapper.

Gradient accumulation (``accumulative_counts > 1``) is refused with a clear
error by :func:`training_wrappers`: the wrapper's accumulation counts its
``backward`` calls, not iterations, so with several backward passes per
iteration it would step mid-iteration, on part of the loss, and scale the
passes wrongly. Use a larger batch instead.
"""
from typing import Dict, Iterable, Sequence, Union

from mmengine.optim import OptimWrapper, OptimWrapperDict


def refuse_accumulation(wrapper: OptimWrapper, name: str,
                        owner: str) -> None:
    """Raise if ``wrapper`` accumulates gradients over iterations.

    Args:
        wrapper (OptimWrapper): The wrapper.
        name (str): Its key in the ``OptimWrapperDict``, for the message.
        owner (str): The model's class name, for the message.

    Raises:
        ValueError: If its ``accumulative_counts`` is above 1.
    """
    # mmengine keeps the option only as this attribute (no public getter)
    counts = getattr(wrapper, '_accumulative_counts', 1)
    if counts > 1:
        raise ValueError(
            f'{owner}: the optimizer wrapper `{name}` has '
            f'accumulative_counts={counts}, but gradient accumulation is not '
            'supported: one iteration backs several losses before it steps, '
            'and accumulation would count those passes as iterations. '
            'Remove accumulative_counts (or set it to 1) and use a larger '
            'batch instead.')


def training_wrappers(optim_wrapper: Union[OptimWrapper, OptimWrapperDict],
                      names: Sequence[str],
                      owner: str,
                      allow_plain: bool = False) -> Dict[str, OptimWrapper]:
    """The named wrappers of a training step, checked.

    Args:
        optim_wrapper (OptimWrapper | OptimWrapperDict): What the loop
            passes to ``train_step``.
        names (Sequence[str]): The wrappers the step uses.
        owner (str): The model's class name, for the messages.
        allow_plain (bool): Accept a single ``OptimWrapper`` as the one
            wrapper of a step that uses only one. Defaults to False.

    Returns:
        dict[str, OptimWrapper]: The wrappers by name.

    Raises:
        TypeError: If a wrapper is missing (naming the config to write).
        ValueError: If a wrapper accumulates gradients.
    """
    if isinstance(optim_wrapper, OptimWrapperDict):
        missing = [n for n in names if n not in optim_wrapper]
        wrappers = None if missing else {n: optim_wrapper[n] for n in names}
    elif allow_plain and isinstance(optim_wrapper, OptimWrapper) and \
            len(names) == 1:
        wrappers = {names[0]: optim_wrapper}
    else:
        wrappers = None
    if wrappers is None:
        keys = ', '.join(f'{n}=dict(...)' for n in names)
        raise TypeError(
            f'{owner} needs an OptimWrapperDict with the wrappers '
            f'{list(names)}: optim_wrapper=dict(constructor='
            f"'MultiOptimWrapperConstructor', {keys}), got "
            f'{type(optim_wrapper).__name__}')
    for name, wrapper in wrappers.items():
        refuse_accumulation(wrapper, name, owner)
    return wrappers


def step_wrappers(wrappers: Iterable[OptimWrapper],
                  step: bool = True) -> None:
    """Step (unless ``step`` is False) and zero the gradients of each
    wrapper, in order.

    Args:
        wrappers (Iterable[OptimWrapper]): The wrappers.
        step (bool): Whether to step; False only zeroes the gradients
            (a skipped iteration).
    """
    for wrapper in wrappers:
        if step:
            wrapper.step()
        wrapper.zero_grad()
