"""A tiny 2-rank training with validation, run by torchrun on CPU (gloo),
for tests/test_engine/test_hooks/test_broadcast_buffers_hook.py.

Each rank trains a small BN network on its own half of the data (so the
ranks' running statistics differ), wrapped as the UDA configs wrap models
(``MMSeparateDistributedDataParallel``, buffers not broadcast). A recorder
saves every rank's buffers when validation starts; rank 0 saves a
checkpoint at the same iteration::

    torchrun --nproc_per_node 2 tests/reference/bn_buffers_run.py WORK_DIR \
        {with_hook,without_hook}
"""
import os.path as osp
import sys

import torch
import torch.distributed as torch_dist
import torch.nn as nn
from mmengine.config import Config
from mmengine.dist import get_rank
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import mmseg_uda  # noqa: F401  (registers BroadcastBuffersHook)
from mmseg_uda.utils import setup_cpu_dist


class ShiftedPairs(Dataset):
    """Regression pairs whose input statistics change along the set."""

    def __init__(self, num: int = 16) -> None:
        gen = torch.Generator().manual_seed(0)
        scale = torch.linspace(0.5, 4.0, num).view(num, 1)
        self.x = torch.randn(num, 3, generator=gen) * scale + scale
        self.y = torch.randn(num, 2, generator=gen)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=self.x[index], target=self.y[index])


class TinyBN(BaseModel):

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4),
                                 nn.Linear(4, 2))

    def forward(self, inputs, target=None, mode='loss'):
        out = self.net(inputs)
        if mode == 'loss':
            return dict(loss=((out - target)**2).mean())
        return [dict(error=((out - target)**2).mean().item())]


class MeanError(BaseMetric):

    def process(self, data_batch, data_samples) -> None:
        self.results.extend(s['error'] for s in data_samples)

    def compute_metrics(self, results) -> dict:
        return dict(error=sum(results) / len(results))


class RecordBuffers(Hook):
    """Saves this rank's buffers when validation starts."""

    priority = 'LOWEST'  # after BroadcastBuffersHook

    def before_val_epoch(self, runner) -> None:
        net = runner.model.module.net  # a DDP wrapper of the BN network
        net = getattr(net, 'module', net)
        torch.save({k: v.clone() for k, v in net.state_dict().items()
                    if 'running' in k},
                   osp.join(runner.work_dir,
                            f'val{runner.iter}_rank{get_rank()}.pth'))


def main() -> None:
    work_dir, mode = sys.argv[1], sys.argv[2]
    loader = dict(dataset=ShiftedPairs(),
                  sampler=dict(type='DefaultSampler', shuffle=False),
                  collate_fn=dict(type='default_collate'), batch_size=4,
                  num_workers=0)
    cfg = Config(dict(
        launcher='pytorch',
        model_wrapper_cfg=dict(type='MMSeparateDistributedDataParallel',
                               find_unused_parameters=False),
        env_cfg=dict(dist_cfg=dict(backend='gloo', timeout=120))))
    setup_cpu_dist(cfg)  # gloo from torchrun's variables
    default_hooks = dict(
        checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
        logger=dict(type='LoggerHook', interval=1))
    if mode == 'with_hook':
        default_hooks['sync_buffers'] = dict(type='BroadcastBuffersHook')
    runner = Runner(
        model=TinyBN(),
        work_dir=work_dir,
        train_dataloader=loader,
        val_dataloader=loader,
        val_evaluator=dict(type=MeanError),
        val_cfg=dict(type='ValLoop'),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=2, val_interval=2),
        default_hooks=default_hooks,
        custom_hooks=[RecordBuffers()],
        launcher='pytorch',
        env_cfg=cfg.env_cfg,
        cfg=cfg,  # the runner reads model_wrapper_cfg from it
        default_scope='mmseg',
        randomness=dict(seed=0))
    runner.train()
    torch_dist.barrier()  # rank 0 may still be saving
    torch_dist.destroy_process_group()


if __name__ == '__main__':
    main()
