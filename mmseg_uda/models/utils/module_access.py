"""Reach the module inside a model wrapper; freeze or unfreeze a module."""
import torch.nn as nn
from mmengine.model import is_model_wrapper


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside a model wrapper (DDP etc.), or the module itself.

    Args:
        module (nn.Module): A module, wrapped or not.

    Returns:
        nn.Module: The wrapped module.
    """
    return module.module if is_model_wrapper(module) else module


def set_requires_grad(module: nn.Module, requires_grad: bool) -> None:
    """Freeze or unfreeze every parameter of ``module``.

    Args:
        module (nn.Module): The module.
        requires_grad (bool): The new ``requires_grad`` of its parameters.
    """
    for param in module.parameters():
        param.requires_grad_(requires_grad)
