"""Wrong inputs to the tools stop before any work with a message that names
the file, key, directory or command."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

from tools.demo.demo_dataset import generate_demo_dataset

pytestmark = pytest.mark.reliability

UDA_CONFIG = 'configs/demo/deeplabv2_r18_tiny_adaptseg_demo.py'
PLAIN_CONFIG = 'configs/demo/deeplabv2_r18_tiny_source_only_demo.py'


def _fail(repo_root, *args, env=None):
    env = dict(env or os.environ, PYTHONPATH=repo_root)
    proc = subprocess.run([sys.executable, *args], cwd=repo_root, env=env,
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    return out


def _truncated(path):
    state = {'backbone.conv1.weight': torch.zeros(16, 3, 7, 7)}
    torch.save({'state_dict': state, 'meta': {}}, path)
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


@pytest.mark.slow
def test_truncated_checkpoint_is_named(repo_root, tmp_path):
    ckpt = str(tmp_path / 'cut.pth')
    _truncated(ckpt)
    out = _fail(repo_root, 'tools/test.py', PLAIN_CONFIG, ckpt,
                '--work-dir', str(tmp_path / 'w'))
    assert f'cannot read checkpoint {ckpt}' in out
    out = _fail(repo_root, 'tools/train.py', PLAIN_CONFIG, '--work-dir',
                str(tmp_path / 'w'), '--cfg-options', f'load_from={ckpt}')
    assert f'cannot read checkpoint {ckpt}' in out
    assert 'Checkpoints will be saved' not in out


@pytest.mark.slow
def test_checkpoint_of_another_model_is_refused(repo_root, tmp_path):
    # the demo's keys under another name: nothing would load
    ckpt = str(tmp_path / 'other.pth')
    state = {f'net.{h}.convs.{i}.weight': torch.zeros(7, 8, 3, 3)
             for h in ('decode_head', 'auxiliary_head') for i in range(3)}
    torch.save({'state_dict': state, 'meta': {}}, ckpt)
    for args in (('tools/test.py', PLAIN_CONFIG, ckpt),
                 ('tools/train.py', UDA_CONFIG, '--cfg-options',
                  f'load_from={ckpt}')):
        out = _fail(repo_root, *args, '--work-dir', str(tmp_path / 'w'))
        assert f'checkpoint {ckpt} fills 0 of the' in out
        assert '6 of its entries match nothing' in out
        assert 'Checkpoints will be saved' not in out


@pytest.mark.slow
def test_wrong_weight_is_named_at_build(repo_root, tmp_path):
    # other types and signs: tests/test_utils/test_number_checks.py
    out = _fail(repo_root, 'tools/train.py', UDA_CONFIG, '--work-dir',
                str(tmp_path / 'w'), '--cfg-options',
                'model.adv_weights.main=abc', 'model.adv_weights.aux=-0.1')
    assert "`model.adv_weights.main` must be a number (>= 0), got 'abc' " \
        '(str)' in out
    assert '`model.adv_weights.aux` must be a number >= 0, got -0.1' in out
    assert 'Checkpoints will be saved' not in out


@pytest.mark.slow
def test_launcher_pytorch_outside_torchrun_names_the_command(
        repo_root, tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')}
    out = _fail(repo_root, 'tools/train.py', PLAIN_CONFIG, '--launcher',
                'pytorch', '--work-dir', str(tmp_path / 'w'), env=env)
    assert 'tools/dist_train.sh CONFIG NUM_GPUS' in out
    assert 'RANK' in out and 'environment variable RANK expected' not in out


def _demo_without_images(tmp_path, domain):
    data = str(tmp_path / 'data')
    generate_demo_dataset(data, num_source_train=2, num_source_val=1,
                          num_target_train=2, num_target_val=1,
                          size=(32, 64))
    empty = osp.join(data, domain, 'images' if domain == 'source' else
                     'leftImg8bit/train')
    for root, _, files in os.walk(empty):
        for name in files:
            os.remove(osp.join(root, name))
    return data, empty


def test_empty_source_directory_is_named(repo_root, tmp_path):
    data, empty = _demo_without_images(tmp_path, 'source')
    cfg = Config.fromfile(osp.join(repo_root, UDA_CONFIG))
    dataset = cfg.train_dataloader.dataset
    dataset.source.data_root = f'{data}/source'
    dataset.target.data_root = f'{data}/target'
    init_default_scope('mmseg')
    with pytest.raises(ValueError) as err:
        DATASETS.build(dataset)
    assert str(err.value).startswith('the source dataset (GTAVDataset) has '
                                     f'no images: the image directory '
                                     f"'{empty}'")


@pytest.mark.slow
def test_empty_target_directory_is_named(repo_root, tmp_path):
    domain = 'target'
    data, empty = _demo_without_images(tmp_path, domain)
    loader = 'train_dataloader'
    out = _fail(
        repo_root, 'tools/train.py', UDA_CONFIG, '--work-dir',
        str(tmp_path / 'w'), '--cfg-options',
        f'{loader}.dataset.source.data_root={data}/source',
        f'{loader}.dataset.target.data_root={data}/target',
        f'{loader}.num_workers=0', f'{loader}.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        f'val_dataloader.dataset.data_root={data}/target')
    assert 'need at least one array' not in out.splitlines()[-1]
    assert f'the {domain} dataset' in out
    assert empty in out
