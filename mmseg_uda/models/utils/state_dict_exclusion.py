"""Keep a submodule out of its parent's state dict and checkpoints."""
from typing import List

import torch.nn as nn


def exclude_from_state_dict(module: nn.Module) -> nn.Module:
    """Keep ``module`` out of every state dict it is saved in or loaded from.

    For a frozen submodule that is rebuilt on every run instead of being
    saved (e.g. a copy of ImageNet-initialised weights that the owner's
    ``init_weights`` loads): with torch's public state-dict hooks,

    * saving (``state_dict()`` of the module or of any parent) leaves out
      every key of ``module``;
    * loading a state dict into a parent fills the module's keys with the
      module's current values before anything is copied, so that the load
      reports none of them missing, and the module keeps its weights even
      when the state dict holds entries for it.

    Args:
        module (nn.Module): The submodule to exclude.

    Returns:
        nn.Module: ``module``, with the hooks registered.
    """

    reading_own = False  # True while keep_own_values reads the module

    def drop_keys(mod: nn.Module, state_dict: dict, prefix: str,
                  local_metadata: dict) -> None:
        if reading_own:
            return
        for key in [k for k in state_dict if k.startswith(prefix)]:
            del state_dict[key]

    def keep_own_values(mod: nn.Module, state_dict: dict, prefix: str,
                        local_metadata: dict, strict: bool,
                        missing_keys: List[str], unexpected_keys: List[str],
                        error_msgs: List[str]) -> None:
        nonlocal reading_own
        reading_own = True
        try:
            own = mod.state_dict(prefix=prefix)
        finally:
            reading_own = False
        for key in [k for k in state_dict if k.startswith(prefix)]:
            del state_dict[key]
        state_dict.update(own)

    module.register_state_dict_post_hook(drop_keys)
    module.register_load_state_dict_pre_hook(keep_own_values)
    return module
