"""tools/train.py and tools/test.py refuse a checkpoint of another class
count, and --resume with no readable checkpoint, before any work starts."""
import os
import os.path as osp

import pytest
import torch

from tests.tool_runs import run_python

pytestmark = pytest.mark.reliability

CONFIG = 'configs/demo/deeplabv2_r18_tiny_source_only_demo.py'


def _fail(repo_root, *args):
    proc = run_python(args, repo_root=repo_root, timeout=120)
    assert proc.returncode != 0, proc.stdout[-2000:]
    # refused before the runner was built
    assert 'Checkpoints will be saved' not in proc.stdout + proc.stderr
    return proc.stderr


def _five_class_checkpoint(path):
    # the demo model's classifiers (7 classes in the config) with 5 outputs
    state = {f'{head}.convs.{i}.weight': torch.zeros(5, 8, 3, 3)
             for head in ('decode_head', 'auxiliary_head') for i in range(3)}
    torch.save(dict(meta=dict(iter=2), state_dict=state), path)


@pytest.mark.slow
def test_test_py_refuses_another_class_count(repo_root, tmp_path):
    ckpt = str(tmp_path / 'five.pth')
    _five_class_checkpoint(ckpt)
    err = _fail(repo_root, 'tools/test.py', CONFIG, ckpt, '--work-dir',
                str(tmp_path / 'work'))
    assert f'checkpoint {ckpt} has 5 classes' in err
    assert 'num_classes=7' in err


@pytest.mark.slow
def test_train_py_refuses_load_from_and_resume(repo_root, tmp_path):
    work = str(tmp_path / 'work')
    ckpt = str(tmp_path / 'five.pth')
    _five_class_checkpoint(ckpt)
    err = _fail(repo_root, 'tools/train.py', CONFIG, '--work-dir', work,
                '--cfg-options', f'load_from={ckpt}')
    assert f'checkpoint {ckpt} has 5 classes' in err
    assert 'num_classes=7' in err

    os.makedirs(work)
    resumed = osp.join(work, 'iter_2.pth')
    _five_class_checkpoint(resumed)
    err = _fail(repo_root, 'tools/train.py', CONFIG, '--work-dir', work,
                '--resume')
    assert f'checkpoint {resumed} has 5 classes' in err
    assert 'num_classes=7' in err


@pytest.mark.slow
def test_resume_with_no_readable_checkpoint_names_them(repo_root, tmp_path):
    work = str(tmp_path / 'work')
    os.makedirs(work)
    broken = osp.join(work, 'iter_2.pth')
    with open(broken, 'wb') as f:
        f.write(b'PK\x03\x04 cut short')
    err = _fail(repo_root, 'tools/train.py', CONFIG, '--work-dir', work,
                '--resume')
    assert 'no readable checkpoint' in err and broken in err
