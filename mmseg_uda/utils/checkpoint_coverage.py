"""Refuse a checkpoint that leaves most of a model's weights unloaded.

mmengine loads weights with ``strict=False``: keys that match nothing are
reported as a warning and the run goes on with the model as initialised, so
a checkpoint of another model (e.g. a UDA checkpoint given to a config of
another layout) gives a run that succeeds with a meaningless result.
:func:`check_checkpoint_coverage` loads the checkpoint into a model built
for the purpose, the way mmengine does (the model's own key mapping
included), and counts what it filled.
"""
import re
from typing import Dict, List, NamedTuple

import torch
import torch.nn as nn
from mmengine.model import is_model_wrapper

#: Fraction of the weights a checkpoint must fill (by number of values).
MIN_LOADED_FRACTION = 0.5
_NOT_WEIGHTS = ('num_batches_tracked', )


class Coverage(NamedTuple):
    """What loading a checkpoint filled."""
    loaded_values: int
    total_values: int
    loaded_tensors: int
    total_tensors: int
    unexpected: List[str]
    missing: List[str]
    scope: str

    @property
    def fraction(self) -> float:
        """Loaded fraction of the values."""
        return self.loaded_values / max(self.total_values, 1)


def _weights_of(model: nn.Module) -> Dict[str, int]:
    """Key -> number of values of the part a checkpoint must fill.

    For a model holding a segmentor (a UDA model) that part is the
    segmentor: discriminators, a teacher and the like may start from
    scratch. Extra states that are no tensors (e.g. an image pool's random
    state) are not weights.
    """
    scope = 'segmentor.' if isinstance(
        getattr(model, 'segmentor', None), nn.Module) else ''
    return {
        key: value.numel()
        for key, value in model.state_dict().items()
        if key.startswith(scope) and not key.endswith(_NOT_WEIGHTS)
        and isinstance(value, torch.Tensor)
    }


def checkpoint_coverage(model: nn.Module, checkpoint: dict) -> Coverage:
    """Load ``checkpoint`` into ``model`` and count what it filled.

    The model's weights are overwritten: pass a model built for the check.
    Keys are revised as mmengine's runner does (a leading ``module.`` is
    removed) and go through the model's own ``_load_from_state_dict``.

    Args:
        model (nn.Module): A freshly built model (not DDP-wrapped).
        checkpoint (dict): mmengine's checkpoint (``state_dict``) or a
            bare state dict.

    Returns:
        Coverage: Counts of values and tensors, loaded and in total.

    Raises:
        RuntimeError: torch's error for tensors of another shape.
    """
    if is_model_wrapper(model):
        model = model.module
    state_dict = checkpoint.get('state_dict', checkpoint)
    state_dict = {re.sub(r'^module\.', '', k): v
                  for k, v in state_dict.items()}
    weights = _weights_of(model)
    result = model.load_state_dict(state_dict, strict=False)
    missing = [k for k in result.missing_keys if k in weights]
    unloaded = set(missing)
    loaded = {k: n for k, n in weights.items() if k not in unloaded}
    scope = 'segmentor' if weights and all(
        k.startswith('segmentor.') for k in weights) else 'model'
    return Coverage(
        loaded_values=sum(loaded.values()),
        total_values=sum(weights.values()),
        loaded_tensors=len(loaded),
        total_tensors=len(weights),
        unexpected=list(result.unexpected_keys),
        missing=missing,
        scope=scope)


def check_checkpoint_coverage(model: nn.Module, checkpoint: dict, path: str,
                              min_fraction: float = MIN_LOADED_FRACTION
                              ) -> Coverage:
    """Refuse ``checkpoint`` if it fills less than ``min_fraction`` of
    ``model``'s weights.

    Args:
        model (nn.Module): A model built for the check (overwritten).
        checkpoint (dict): The loaded checkpoint.
        path (str): Its file, for the message.
        min_fraction (float): Least loaded fraction of the values.

    Returns:
        Coverage: What loading filled, when enough.

    Raises:
        ValueError: Naming ``path``, the counts and example keys of both
            sides; also for tensors of another shape.
    """
    try:
        coverage = checkpoint_coverage(model, checkpoint)
    except RuntimeError as exc:
        raise ValueError(f'checkpoint {path} does not fit the model of the '
                         f'config: {exc}') from exc
    if coverage.fraction >= min_fraction:
        return coverage
    example_ckpt = coverage.unexpected[0] if coverage.unexpected else None
    example_model = coverage.missing[0] if coverage.missing else None
    raise ValueError(
        f'checkpoint {path} fills {coverage.loaded_tensors} of the '
        f'{coverage.total_tensors} weight tensors ({coverage.loaded_values} '
        f'of {coverage.total_values} values, '
        f'{100 * coverage.fraction:.1f}%) of the {coverage.scope} of the '
        f'config; {len(coverage.unexpected)} of its entries match nothing '
        f'(e.g. checkpoint {example_ckpt!r}, model {example_model!r}). Is it '
        'a checkpoint of another model? A UDA checkpoint can be turned into '
        'a plain segmentor checkpoint with '
        'tools/model_converters/export_segmentor.py')
