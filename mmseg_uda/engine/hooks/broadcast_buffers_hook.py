"""Rank 0's buffers on every rank before validation."""
import torch.nn as nn
from mmengine.dist import broadcast, get_world_size
from mmengine.hooks import Hook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class BroadcastBuffersHook(Hook):
    """Copy rank 0's buffers (BN running statistics ...) to every rank
    before each validation, so that validation and checkpoints agree.

    The UDA configs wrap the model in ``MMSeparateDistributedDataParallel``
    with ``broadcast_buffers=False`` (mmengine's default) and plain BN: in
    training every rank updates its BN running statistics from its own
    batches. Checkpoints are written by rank 0 from its own buffers, but
    without this hook every rank validates its share of the images with
    its own statistics, so the logged mIoU and ``save_best`` would not
    describe the saved weights. With it every rank validates with rank 0's
    buffers: the ones of the iteration's checkpoint (saved just before
    validation) and of the best checkpoint (saved just after). mmengine's
    ``SyncBuffersHook`` averages the buffers instead, after the iteration's
    checkpoint was saved, so the two would still differ.

    Training is unchanged: BN normalises with batch statistics in train
    mode; the running statistics only serve evaluation. A no-op on a
    single process.
    """

    priority = 'LOW'

    @staticmethod
    def broadcast_buffers(model: nn.Module) -> None:
        """Overwrite every buffer of ``model`` with rank 0's (all ranks
        must call this)."""
        if get_world_size() < 2:
            return
        for buffer in model.buffers():
            broadcast(buffer, src=0)

    def before_val_epoch(self, runner) -> None:
        """Validate every rank's share with rank 0's buffers."""
        self.broadcast_buffers(runner.model)
