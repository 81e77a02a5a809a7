"""Switch the optimizer wrappers of a config to mixed precision."""
from mmengine.config import Config, ConfigDict

_AMP = 'AmpOptimWrapper'


def _to_amp(wrapper_cfg: ConfigDict) -> None:
    wrapper_type = wrapper_cfg.get('type', 'OptimWrapper')
    if wrapper_type == _AMP:
        return
    if wrapper_type != 'OptimWrapper':
        raise ValueError(f'--amp cannot convert optimizer wrapper type '
                         f'{wrapper_type!r}; expected OptimWrapper')
    wrapper_cfg.type = _AMP
    wrapper_cfg.setdefault('loss_scale', 'dynamic')


def enable_amp(cfg: Config) -> None:
    """Make every optimizer wrapper of ``cfg`` an ``AmpOptimWrapper``.

    Handles a single wrapper (``optim_wrapper=dict(type='OptimWrapper', ...)``)
    and a dict of wrappers built by a multi-optimizer constructor
    (``optim_wrapper=dict(constructor=..., segmentor=dict(...), ...)``),
    where each sub-config holding an ``optimizer`` is converted.

    Args:
        cfg (Config): The full config; modified in place.
    """
    optim_wrapper = cfg.get('optim_wrapper')
    if optim_wrapper is None:
        raise KeyError('--amp needs `optim_wrapper` in the config')
    if 'optimizer' in optim_wrapper:
        _to_amp(optim_wrapper)
        return
    subs = [v for v in optim_wrapper.values()
            if isinstance(v, dict) and 'optimizer' in v]
    if not subs:
        raise KeyError('--amp found no optimizer wrapper config (a dict '
                       'with `optimizer`) in `optim_wrapper`')
    for sub in subs:
        _to_amp(sub)
