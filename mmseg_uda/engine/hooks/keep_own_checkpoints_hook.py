"""A resumed run deletes only the checkpoints it wrote itself."""
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

#: Where mmengine's ``CheckpointHook`` keeps the steps of its kept files.
KEEP_LIST = 'keep_ckpt_ids'


@HOOKS.register_module()
class KeepOwnCheckpointsHook(Hook):
    """Drop the keep-list a resumed checkpoint carries.

    mmengine's ``CheckpointHook`` records the steps of the checkpoints it
    keeps (``max_keep_ckpts``) in the checkpoint and, on resume, deletes
    ``<work_dir>/iter_<step>.pth`` for each step beyond the limit, and
    later the oldest of that list, whether or not the current run wrote
    them (e.g. a work dir that was copied, or files the user put back).
    With this hook the list starts empty on resume: the run rotates only
    the checkpoints it saves itself, and files from before the resume stay.
    ``tools/train.py --resume`` adds it.
    """

    priority = 'VERY_HIGH'  # before CheckpointHook reads the list

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Remove the keep-list from the checkpoint's runtime info.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The checkpoint being loaded (changed in
                place before the runner restores its message hub).
        """
        hub = checkpoint.get('message_hub')
        if isinstance(hub, dict):
            (hub.get('runtime_info') or {}).pop(KEEP_LIST, None)
