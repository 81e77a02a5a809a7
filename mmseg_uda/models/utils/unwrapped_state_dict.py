"""State dicts that save the names of DDP-wrapped children unwrapped."""
from mmengine.model import is_model_wrapper


class UnwrappedStateDictMixin:
    """``state_dict`` without the ``module.`` of DDP-wrapped children.

    ``MMSeparateDistributedDataParallel`` wraps each child with trainable
    parameters in DDP, so a plain state dict holds ``<child>.module.*``,
    while mmengine's loader unwraps wrappers and expects ``<child>.*``.
    Saving the unwrapped names makes checkpoints of distributed runs load
    (``--resume``, ``tools/test.py``) anywhere. Put the mixin before the
    ``nn.Module`` base class.
    """

    def state_dict(self, *args, destination=None, prefix: str = '',
                   keep_vars: bool = False) -> dict:
        """The module's state dict with wrapped children's names unwrapped.
        """
        state = super().state_dict(
            *args, destination=destination, prefix=prefix,
            keep_vars=keep_vars)
        for name, child in self._modules.items():
            if not is_model_wrapper(child):
                continue
            wrapped = f'{prefix}{name}.module.'
            for key in [k for k in state if k.startswith(wrapped)]:
                state[f'{prefix}{name}.{key[len(wrapped):]}'] = \
                    state.pop(key)
        return state
