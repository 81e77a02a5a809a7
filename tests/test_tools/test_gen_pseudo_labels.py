"""tools/gen_pseudo_labels.py end to end on tiny Cityscapes data."""
import json
import os
import os.path as osp
import shutil
import sys

import cv2
import numpy as np
import pytest

from tests.reference.tiny_layouts import make_cityscapes
from tests.test_tools.test_rank_targets import (CONFIG, TINY,
                                                kill_test_layout, tiny_model)
from tests.tool_runs import (kill_midway, output_files, run_python, start,
                             tool_env, torchrun)

pytestmark = pytest.mark.slow

SIZE = (64, 32)  # (w, h) labelling size, images are 128x64


def tool_args(cs, ckpt, work_dir, *flags):
    return ['tools/gen_pseudo_labels.py', CONFIG, ckpt, '--work-dir',
            work_dir, *flags, '--cfg-options', *TINY,
            f'train_dataloader.dataset.target.data_root={cs}',
            f'test_dataloader.dataset.pipeline.1.scale=({SIZE[0]},{SIZE[1]})',
            'test_dataloader.num_workers=0',
            'test_dataloader.persistent_workers=False']


def run_tool(repo_root, args, launcher=None):
    proc = run_python([*(launcher or []), *args], repo_root=repo_root)
    return proc.returncode, proc.stdout + proc.stderr


def labels_of(out_dir):
    root = osp.join(out_dir, 'pseudo_labels')
    files = {}
    for d, _, fs in os.walk(root):
        for f in fs:
            path = osp.join(d, f)
            files[osp.relpath(path, root)] = (
                cv2.imread(path, cv2.IMREAD_UNCHANGED), os.stat(path))
    return files


@pytest.fixture(scope='module')
def data(repo_root, tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp('gen_pl'))
    cs = osp.join(tmp, 'cityscapes')
    make_cityscapes(cs, split='train', num=5, size=(64, 128), seed=11)
    ckpt = osp.join(tmp, 'model.pth')
    tiny_model(repo_root, ckpt)
    return dict(tmp=tmp, cs=cs, ckpt=ckpt)


def test_labels_every_image_and_does_not_recompute(repo_root, data):
    out = osp.join(data['tmp'], 'bdl')
    rc, log = run_tool(repo_root, tool_args(data['cs'], data['ckpt'], out,
                                            '--batch-size', '2'))
    assert rc == 0, log[-5000:]
    assert '5 images, 0 already processed' in log
    labels = labels_of(out)
    stems = sorted(f[:-len('_leftImg8bit.png')] for f in os.listdir(
        osp.join(data['cs'], 'leftImg8bit', 'train', 'tiny')))
    assert sorted(labels) == [f'tiny/{s}_gtFine_labelTrainIds.png'
                              for s in stems]
    for label, _ in labels.values():
        assert label.shape == (SIZE[1], SIZE[0]) and label.dtype == np.uint8
        assert set(np.unique(label)) <= set(range(19)) | {255}
    with open(osp.join(out, 'pseudo_labels.json')) as f:
        summary = json.load(f)
    settings = dict(summary['settings'])
    assert settings.pop('model').startswith(osp.abspath(data['ckpt']))
    assert settings == dict(rule='bdl', quantile=0.5, cap=0.9)
    assert summary['num_images'] == 5 and len(summary['thresholds']) == 19
    assert summary['num_pixels'] == 5 * SIZE[0] * SIZE[1]
    assert 0 < summary['labelled_fraction'] < 1
    assert not osp.exists(osp.join(out, '.cache'))
    with open(osp.join(out, 'images.txt')) as f:
        assert f.read().split() == [f'tiny/{s}' for s in stems]

    rc, log = run_tool(repo_root, tool_args(data['cs'], data['ckpt'], out))
    assert rc == 0, log[-5000:]
    assert 'already holds the bdl pseudo-labels' in log
    again = labels_of(out)
    assert {k: v[1].st_mtime_ns for k, v in again.items()} == {
        k: v[1].st_mtime_ns for k, v in labels.items()}

    # another rule in the same directory recomputes
    rc, log = run_tool(repo_root, tool_args(
        data['cs'], data['ckpt'], out, '--rule', 'fixed', '--threshold',
        '0.6'))
    assert rc == 0, log[-5000:]
    with open(osp.join(out, 'pseudo_labels.json')) as f:
        settings = json.load(f)['settings']
    assert settings['rule'] == 'fixed' and settings['threshold'] == 0.6

    # so does another checkpoint: labels of one model are never reused
    # for another
    other = osp.join(data['tmp'], 'other.pth')
    shutil.copyfile(data['ckpt'], other)
    rc, log = run_tool(repo_root, tool_args(
        data['cs'], other, out, '--rule', 'fixed', '--threshold', '0.6'))
    assert rc == 0, log[-5000:]
    assert '5 images, 0 already processed' in log
    with open(osp.join(out, 'pseudo_labels.json')) as f:
        assert json.load(f)['settings']['model'].startswith(other)


def test_missing_files_are_named(repo_root, data):
    missing = osp.join(data['tmp'], 'nope.pth')
    rc, log = run_tool(repo_root, tool_args(data['cs'], missing,
                                            osp.join(data['tmp'], 'x')))
    assert rc != 0 and f'checkpoint not found: {missing}' in log
    args = tool_args(data['cs'], data['ckpt'], osp.join(data['tmp'], 'x'))
    args[1] = 'configs/none.py'
    rc, log = run_tool(repo_root, args)
    assert rc != 0 and 'config file not found: configs/none.py' in log


def test_two_processes_write_the_same_labels(repo_root, data):
    single = osp.join(data['tmp'], 'single')
    rc, log = run_tool(repo_root, tool_args(data['cs'], data['ckpt'],
                                            single))
    assert rc == 0, log[-5000:]
    ddp = osp.join(data['tmp'], 'ddp')
    rc, log = run_tool(repo_root, tool_args(
        data['cs'], data['ckpt'], ddp, '--launcher', 'pytorch'), torchrun())
    assert rc == 0, log[-5000:]
    a, b = labels_of(single), labels_of(ddp)
    assert sorted(a) == sorted(b) and len(a) == 5
    for key in a:
        np.testing.assert_array_equal(a[key][0], b[key][0])
    for name in ('pseudo_labels.json', 'images.txt'):
        with open(osp.join(single, name)) as f, \
                open(osp.join(ddp, name)) as g:
            assert f.read() == g.read()


@pytest.mark.slow
@pytest.mark.reliability
def test_killed_run_resumes_to_identical_labels(repo_root, tmp_path):
    """SIGKILL the tool midway through the images, run it again: the same
    labels and summary as a run that was never interrupted."""
    num = 40
    cs, ckpt, full, part = kill_test_layout(repo_root, str(tmp_path), num)
    rc, log = run_tool(repo_root, tool_args(cs, ckpt, full))
    assert rc == 0, log[-5000:]

    proc = start([sys.executable, *tool_args(cs, ckpt, part)],
                 cwd=repo_root, env=tool_env(repo_root))
    cache = osp.join(part, '.cache', 'images')

    def cached():
        return len([f for _, _, fs in os.walk(cache) for f in fs
                    if f.endswith('.npz')])

    done = kill_midway(proc, cached, 3, num, 'cached images')
    assert not osp.exists(osp.join(part, 'pseudo_labels.json'))
    finished = {osp.join(d, f): os.stat(osp.join(d, f)).st_mtime_ns
                for d, _, fs in os.walk(cache) for f in fs
                if f.endswith('.npz')}

    # the cache kept: the images done before the kill were not run again
    rc, log = run_tool(repo_root, tool_args(cs, ckpt, part, '--keep-cache'))
    assert rc == 0, log[-5000:]
    assert f'{num} images, {done} already processed' in log
    assert {p: os.stat(p).st_mtime_ns for p in finished} == finished
    rc, log = run_tool(repo_root, tool_args(cs, ckpt, part))
    assert rc == 0, log[-5000:]
    assert 'already holds the bdl pseudo-labels' in log
    labels = output_files(osp.join(full, 'pseudo_labels'))
    assert len(labels) == num
    assert output_files(osp.join(part, 'pseudo_labels')) == labels
    for name in ('pseudo_labels.json', 'images.txt'):
        with open(osp.join(part, name)) as f, open(osp.join(full, name)) as g:
            assert f.read() == g.read(), name
    assert not osp.exists(osp.join(part, '.cache'))
