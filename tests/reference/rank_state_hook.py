"""A test-only hook that saves every rank's parameters after training."""
import json
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

# runtime info keys saved beside the parameters
INFO_KEYS = ('iter', 'nonfinite_skipped_steps')


@HOOKS.register_module()
class SaveRankParametersHook(Hook):
    """Writes ``rank<r>_params.pth`` (all parameters) and
    ``rank<r>_info.json`` (some runtime info of the rank's message hub) to
    the work dir."""

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        params = {}
        for name, child in model.named_children():
            child = child.module if is_model_wrapper(child) else child
            for pname, p in child.named_parameters():
                params[f'{name}.{pname}'] = p.detach().cpu().clone()
        rank = get_rank()
        torch.save(params, osp.join(runner.work_dir,
                                    f'rank{rank}_params.pth'))
        info = {k: runner.message_hub.get_info(k) for k in INFO_KEYS}
        with open(osp.join(runner.work_dir, f'rank{rank}_info.json'),
                  'w') as f:
            json.dump(info, f)
