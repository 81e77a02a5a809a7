"""init_tool_dist: tools read their rank only once the process group of
their launcher exists, on GPU machines too."""
import pytest
import torch.distributed as torch_dist
from mmengine.config import Config

from mmseg_uda.utils.tool_config import init_tool_dist
from tests.reference.launchers import gpu_launch


@pytest.fixture
def gpu_machine(monkeypatch):
    with gpu_launch(monkeypatch, rank=1, world_size=2) as calls:
        yield calls


@pytest.mark.parametrize('launcher', ['pytorch', 'slurm'])
def test_gpu_launchers_start_the_group_before_the_rank_is_read(
        gpu_machine, launcher):
    cfg = Config(dict(launcher=launcher, env_cfg=dict(
        dist_cfg=dict(backend='nccl', timeout=3600))))
    assert init_tool_dist(cfg) == (1, 2)
    assert gpu_machine == [(launcher, dict(backend='nccl', timeout=3600))]
    # a second call (e.g. the runner's) starts no other group
    assert init_tool_dist(cfg) == (1, 2) and len(gpu_machine) == 1


def test_no_launcher_is_rank_zero_of_one(gpu_machine):
    assert init_tool_dist(Config(dict(launcher='none'))) == (0, 1)
    assert gpu_machine == [] and not torch_dist.is_initialized()
