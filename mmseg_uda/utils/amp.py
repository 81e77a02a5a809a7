"""Switch the optimizer wrappers of a config to mixed precision."""
from typing import Optional

import torch
from mmengine.config import Config, ConfigDict

_AMP = 'AmpOptimWrapper'
AMP_DTYPES = ('float16', 'bfloat16')


def check_amp_available() -> None:
    """Refuse mixed precision where mmengine cannot run it.

    mmengine's ``AmpOptimWrapper`` only builds on a GPU (CUDA, NPU, MLU,
    MUSA); say so before anything is built.

    Raises:
        RuntimeError: If no CUDA device is available.
    """
    if not torch.cuda.is_available():
        raise RuntimeError(
            '--amp needs a CUDA GPU (mmengine\'s AmpOptimWrapper refuses to '
            'build without one); this machine has none. Train without '
            '--amp on the CPU.')


def _to_amp(wrapper_cfg: ConfigDict, dtype: Optional[str]) -> None:
    wrapper_type = wrapper_cfg.get('type', 'OptimWrapper')
    if wrapper_type not in ('OptimWrapper', _AMP):
        raise ValueError(f'--amp cannot convert optimizer wrapper type '
                         f'{wrapper_type!r}; expected OptimWrapper')
    wrapper_cfg.type = _AMP
    wrapper_cfg.setdefault('loss_scale', 'dynamic')
    if dtype is not None:
        wrapper_cfg.dtype = dtype


def enable_amp(cfg: Config, dtype: Optional[str] = None) -> None:
    """Make every optimizer wrapper of ``cfg`` an ``AmpOptimWrapper``.

    Handles a single wrapper (``optim_wrapper=dict(type='OptimWrapper', ...)``)
    and a dict of wrappers built by a multi-optimizer constructor
    (``optim_wrapper=dict(constructor=..., segmentor=dict(...), ...)``),
    where each sub-config holding an ``optimizer`` is converted. Each
    wrapper gets its own dynamic loss scaler, so the segmentor's and the
    discriminators' losses are scaled (and their steps skipped on
    overflow) independently.

    Args:
        cfg (Config): The full config; modified in place.
        dtype (str, optional): ``'float16'`` or ``'bfloat16'``; None keeps
            the config's (autocast's default, float16 on CUDA).

    Raises:
        KeyError: If the config has no optimizer wrapper.
        ValueError: For an unknown ``dtype`` or a wrapper type that is not
            an ``OptimWrapper``.
    """
    if dtype is not None and dtype not in AMP_DTYPES:
        raise ValueError(f'AMP dtype must be one of {AMP_DTYPES}, '
                         f'got {dtype!r}')
    optim_wrapper = cfg.get('optim_wrapper')
    if optim_wrapper is None:
        raise KeyError('--amp needs `optim_wrapper` in the config')
    if 'optimizer' in optim_wrapper:
        _to_amp(optim_wrapper, dtype)
        return
    subs = [v for v in optim_wrapper.values()
            if isinstance(v, dict) and 'optimizer' in v]
    if not subs:
        raise KeyError('--amp found no optimizer wrapper config (a dict '
                       'with `optimizer`) in `optim_wrapper`')
    for sub in subs:
        _to_amp(sub, dtype)
