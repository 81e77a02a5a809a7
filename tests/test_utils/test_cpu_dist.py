"""--launcher slurm on a machine without CUDA: Slurm's variables become
torch's, the first node of the job is the rendezvous host."""
import os

import pytest

from mmseg_uda.utils.cpu_dist import slurm_to_torch_env
from tests.reference.launchers import fake_scontrol

TORCH_VARS = ('MASTER_ADDR', 'MASTER_PORT', 'WORLD_SIZE', 'RANK',
              'LOCAL_RANK')


@pytest.fixture
def slurm_env(monkeypatch, tmp_path):
    for key in TORCH_VARS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv('PATH', fake_scontrol(str(tmp_path)) + os.pathsep +
                       os.environ['PATH'])
    monkeypatch.setenv('SLURM_PROCID', '3')
    monkeypatch.setenv('SLURM_NTASKS', '4')
    monkeypatch.setenv('SLURM_LOCALID', '1')
    monkeypatch.setenv('SLURM_NODELIST', 'node-a,node-b')
    return monkeypatch


def test_slurm_variables_become_torch_variables(slurm_env):
    slurm_to_torch_env()
    assert {k: os.environ[k] for k in TORCH_VARS} == dict(
        MASTER_ADDR='127.0.0.1', MASTER_PORT='29500', WORLD_SIZE='4',
        RANK='3', LOCAL_RANK='1')


def test_given_address_and_port_win(slurm_env):
    slurm_env.setenv('MASTER_ADDR', '10.0.0.7')
    slurm_env.setenv('MASTER_PORT', '1234')
    slurm_to_torch_env()
    assert (os.environ['MASTER_ADDR'], os.environ['MASTER_PORT']) == (
        '10.0.0.7', '1234')
    slurm_to_torch_env(port=4321)  # env_cfg.dist_cfg.port
    assert os.environ['MASTER_PORT'] == '4321'


def test_outside_srun_is_refused(slurm_env):
    slurm_env.delenv('SLURM_NTASKS')
    with pytest.raises(RuntimeError, match=r"SLURM_NTASKS.*srun"):
        slurm_to_torch_env()


def test_missing_scontrol_is_named(slurm_env):
    slurm_env.setenv('PATH', '/nonexistent')
    with pytest.raises(RuntimeError, match='scontrol show hostname.*'
                       'MASTER_ADDR'):
        slurm_to_torch_env()
