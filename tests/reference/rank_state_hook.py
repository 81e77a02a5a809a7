"""A test-only hook that saves every rank's parameters after training."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS


@HOOKS.register_module()
class SaveRankParametersHook(Hook):
    """Writes ``rank<r>_params.pth`` (all parameters) to the work dir."""

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        params = {}
        for name, child in model.named_children():
            child = child.module if is_model_wrapper(child) else child
            for pname, p in child.named_parameters():
                params[f'{name}.{pname}'] = p.detach().cpu().clone()
        torch.save(params, osp.join(runner.work_dir,
                                    f'rank{get_rank()}_params.pth'))
