"""tools/rank_targets.py: ranking against an independent computation, and
a resumed run that equals an uninterrupted one byte for byte."""
import importlib.util
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys

import cv2
import mmcv
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from tests.reference.intrada_entropy import intrada_score
from tests.reference.launchers import fake_scontrol, gpu_launch
from tests.reference.tiny_layouts import make_cityscapes
from tests.tool_runs import (kill_group, kill_midway, run, start, tool_env,
                             torchrun)

pytestmark = pytest.mark.slow

CONFIG = 'configs/adaptseg/deeplabv2_r101_gta2cs.py'
TINY = [
    'model.segmentor.backbone.init_cfg=None',
    'model.segmentor.backbone.depth=18',
    'model.segmentor.backbone.base_channels=16',
    'model.segmentor.backbone.stem_channels=16',
    'model.segmentor.decode_head.in_channels=128',
    'model.segmentor.auxiliary_head.in_channels=64',
]
SIZE = (64, 32)  # (w, h) scoring size, images are 128x64
RANKED = ('images.txt', 'easy_split.txt', 'hard_split.txt', 'scores.csv',
          'ranking.json', 'per_image', 'predictions', 'pseudo_labels')


def tiny_model(repo_root, path, config=CONFIG):
    """A seeded tiny model of ``config`` saved as a checkpoint."""
    cfg = Config.fromfile(osp.join(repo_root, config))
    cfg.merge_from_dict(dict(o.split('=') for o in TINY if 'init' not in o))
    cfg.model.segmentor.backbone.init_cfg = None
    for key in ('depth', 'base_channels', 'stem_channels'):
        cfg.model.segmentor.backbone[key] = int(cfg.model.segmentor.backbone[
            key])
    for head in ('decode_head', 'auxiliary_head'):
        cfg.model.segmentor[head].in_channels = int(
            cfg.model.segmentor[head].in_channels)
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    with torch.no_grad():  # confident, varied predictions
        for p in model.segmentor.decode_head.parameters():
            p.mul_(30)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return cfg, model.eval()


def rank_cmd(cs, ckpt, work_dir, *flags):
    return [sys.executable, 'tools/rank_targets.py', CONFIG, ckpt,
            '--work-dir', work_dir, *flags, '--cfg-options', *TINY,
            f'train_dataloader.dataset.target.data_root={cs}',
            f'test_dataloader.dataset.pipeline.1.scale=({SIZE[0]},{SIZE[1]})',
            'test_dataloader.num_workers=0',
            'test_dataloader.persistent_workers=False']


def rank(repo_root, cs, ckpt, work_dir, *flags):
    cmd = rank_cmd(cs, ckpt, work_dir, *flags)
    proc = run(cmd, cwd=repo_root, env=tool_env(repo_root))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


def snapshot(root):
    files = {}
    for entry in RANKED:
        path = osp.join(root, entry)
        paths = [path] if osp.isfile(path) else [
            osp.join(d, f) for d, _, fs in os.walk(path) for f in fs]
        for p in paths:
            with open(p, 'rb') as f:
                files[osp.relpath(p, root)] = f.read()
    return files


@pytest.fixture(scope='module')
def ranked(repo_root, tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp('rank'))
    cs = osp.join(tmp, 'cityscapes')
    make_cityscapes(cs, split='train', num=7, size=(64, 128), seed=3)
    ckpt = osp.join(tmp, 'model.pth')
    cfg, model = tiny_model(repo_root, ckpt)
    # batch 1: the argmax of a batch of 2 may differ from that of single
    # images in the last bits of CPU convolutions, and the reference below
    # feeds single images
    full = osp.join(tmp, 'A')
    rank(repo_root, cs, ckpt, full)
    return dict(tmp=tmp, cs=cs, ckpt=ckpt, cfg=cfg, model=model, full=full)


def main_logits(model, cfg, img_path, size=SIZE):
    """Main-head logits of the image fed as the test pipeline feeds it
    (bicubic resize to ``size`` (w, h), BGR mean subtracted), at feature
    size."""
    img = cv2.imread(img_path, cv2.IMREAD_COLOR)
    img = mmcv.imresize(img, size, interpolation='bicubic', backend='pillow')
    mean = np.array(cfg.data_preprocessor.mean, dtype=np.float32)
    x = torch.from_numpy(img.astype(np.float32) - mean).permute(2, 0, 1)
    return model.segmentor(x[None], mode='tensor')


def by_hand(model, cfg, img_path):
    """Score and argmax computed without the ranker, as IntraDA does."""
    with torch.no_grad():
        logits = main_logits(model, cfg, img_path)
        logits = F.interpolate(logits, size=(SIZE[1], SIZE[0]),
                               mode='bilinear', align_corners=True)
    return intrada_score(logits, normalize=False), \
        logits[0].argmax(0).numpy()


def test_ranking_matches_an_independent_computation(ranked):
    full, cs = ranked['full'], ranked['cs']
    img_dir = osp.join(cs, 'leftImg8bit', 'train')
    names = sorted(f'tiny/{f[:-len("_leftImg8bit.png")]}'
                   for f in os.listdir(osp.join(img_dir, 'tiny')))
    scores, preds = {}, {}
    for name in names:
        scores[name], preds[name] = by_hand(
            ranked['model'], ranked['cfg'],
            osp.join(img_dir, f'{name}_leftImg8bit.png'))
    order = sorted(names, key=scores.get)
    with open(osp.join(full, 'easy_split.txt')) as f:
        easy = f.read().split()
    with open(osp.join(full, 'hard_split.txt')) as f:
        hard = f.read().split()
    assert len(easy) == int(7 * 0.67) == 4 and len(hard) == 3
    assert sorted(easy + hard) == names
    assert easy + hard == order
    with open(osp.join(full, 'scores.csv')) as f:
        rows = [line.split(',') for line in f.read().split()[1:]]
    assert [r[0] for r in rows] == order
    for row in rows:
        assert float(row[1]) == pytest.approx(scores[row[0]], rel=1e-4)
    assert len(set(scores.values())) == 7
    for name in names:
        label = osp.join(full, 'pseudo_labels',
                         f'{name}_gtFine_labelTrainIds.png')
        assert osp.isfile(label) == (name in easy)
        pred = cv2.imread(osp.join(full, 'predictions',
                                   f'{name}_gtFine_labelTrainIds.png'),
                          cv2.IMREAD_UNCHANGED)
        assert pred.shape == (SIZE[1], SIZE[0])
        np.testing.assert_array_equal(pred, preds[name])


def test_batches_of_two_give_the_same_scores(repo_root, ranked):
    batched = osp.join(ranked['tmp'], 'A2')
    rank(repo_root, ranked['cs'], ranked['ckpt'], batched, '--batch-size',
         '2')
    scores = {}
    for run_dir in (ranked['full'], batched):
        with open(osp.join(run_dir, 'scores.csv')) as f:
            rows = [line.split(',') for line in f.read().split()[1:]]
        scores[run_dir] = {r[0]: float(r[1]) for r in rows}
    single = scores[ranked['full']]
    assert sorted(scores[batched]) == sorted(single)
    for name, value in scores[batched].items():
        assert value == pytest.approx(single[name], rel=1e-4), name


def test_resumed_run_equals_an_uninterrupted_one(repo_root, ranked):
    # batch 1 in both runs (see the fixture)
    full = ranked['full']
    part = osp.join(ranked['tmp'], 'B')
    shutil.copytree(full, part)
    # an interrupted run: some images unscored, one with its PNG but not
    # its JSON (killed between the two writes), no splits yet
    per_image = osp.join(part, 'per_image', 'tiny')
    for name in sorted(os.listdir(per_image))[1::2]:
        os.remove(osp.join(per_image, name))
    for name in ('easy_split.txt', 'hard_split.txt', 'scores.csv',
                 'ranking.json'):
        os.remove(osp.join(part, name))
    shutil.rmtree(osp.join(part, 'pseudo_labels'))
    out = rank(repo_root, ranked['cs'], ranked['ckpt'], part)
    assert '7 images to rank, 4 already scored' in out
    assert 'Iter(test) [3/3]' in out  # only the 3 missing ones ran
    assert snapshot(part) == snapshot(full)
    # nothing left to run: only re-ranks, with another lambda
    out = rank(repo_root, ranked['cs'], ranked['ckpt'], part, '--lambda',
               '0.3')
    assert 'Iter(test)' not in out
    with open(osp.join(part, 'easy_split.txt')) as f:
        assert len(f.read().split()) == 2  # int(7 * 0.3)
    assert len(os.listdir(osp.join(part, 'pseudo_labels', 'tiny'))) == 2


def kill_test_layout(repo_root, tmp, num=40):
    """``num`` Cityscapes images, a tiny model, and the paths of an
    uninterrupted (``full``) and a killed (``part``) run.

    Returns:
        tuple: (cityscapes root, checkpoint, full, part).
    """
    cs = osp.join(tmp, 'cityscapes')
    make_cityscapes(cs, split='train', num=num, size=(64, 128), seed=5)
    ckpt = osp.join(tmp, 'model.pth')
    tiny_model(repo_root, ckpt)
    return cs, ckpt, osp.join(tmp, 'full'), osp.join(tmp, 'part')


def test_killed_run_resumes_to_identical_outputs(repo_root, tmp_path):
    """SIGKILL the ranker midway, run it again: same files as a run that was
    never interrupted, and no temp file left anywhere."""
    num = 40
    cs, ckpt, full, part = kill_test_layout(repo_root, str(tmp_path), num)
    rank(repo_root, cs, ckpt, full)

    cmd = [sys.executable, 'tools/rank_targets.py', CONFIG, ckpt,
           '--work-dir', part, '--cfg-options', *TINY,
           f'train_dataloader.dataset.target.data_root={cs}',
           f'test_dataloader.dataset.pipeline.1.scale=({SIZE[0]},{SIZE[1]})',
           'test_dataloader.num_workers=0',
           'test_dataloader.persistent_workers=False']
    proc = start(cmd, cwd=repo_root, env=tool_env(repo_root))
    per_image = osp.join(part, 'per_image', 'tiny')

    def scored():
        return len([f for f in os.listdir(per_image)
                    if f.endswith('.json')]) if osp.isdir(per_image) else 0

    done = kill_midway(proc, scored, 3, num, 'scored images')
    assert not osp.exists(osp.join(part, 'easy_split.txt'))
    finished = {f: os.stat(osp.join(per_image, f)).st_mtime_ns
                for f in os.listdir(per_image) if f.endswith('.json')}

    out = rank(repo_root, cs, ckpt, part)
    assert f'{num} images to rank, {done} already scored' in out
    # the images scored before the kill were kept, not scored again
    assert {f: os.stat(osp.join(per_image, f)).st_mtime_ns
            for f in finished} == finished
    assert snapshot(part) == snapshot(full)
    leftovers = [f for d, _, fs in os.walk(part) for f in fs
                 if 'tmp' in f.lower() and not f.endswith('.py')]
    assert not leftovers, leftovers


def test_two_processes_rank_like_one(repo_root, ranked):
    """torchrun with 2 processes (gloo on CPU) writes the same files."""
    single = ranked['full']
    ddp = osp.join(ranked['tmp'], 'ddp')
    cmd = [sys.executable, *torchrun(2), 'tools/rank_targets.py', CONFIG,
           ranked['ckpt'], '--work-dir', ddp, '--launcher', 'pytorch',
           '--cfg-options', *TINY,
           f"train_dataloader.dataset.target.data_root={ranked['cs']}",
           f'test_dataloader.dataset.pipeline.1.scale=({SIZE[0]},{SIZE[1]})',
           'test_dataloader.num_workers=0',
           'test_dataloader.persistent_workers=False']
    proc = run(cmd, cwd=repo_root, env=tool_env(repo_root))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert snapshot(ddp) == snapshot(single)


def load_tool(repo_root):
    spec = importlib.util.spec_from_file_location(
        'rank_targets_tool', osp.join(repo_root, 'tools/rank_targets.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class RunnerReached(Exception):
    pass


def test_rank_is_read_after_the_gpu_process_group_exists(
        repo_root, tmp_path, monkeypatch):
    """Under torchrun on GPUs only the runner used to start the process
    group, after the tool had read its rank: every process acted as rank 0
    (all wrote images.txt and .todo/rank0.txt). As rank 1 of 2 on a GPU
    machine (mocked), the tool starts the group before the runner and
    writes nothing itself: the test loop, on the main process, does."""
    cs = osp.join(tmp_path, 'cityscapes')
    make_cityscapes(cs, split='train', num=3, size=(64, 128), seed=3)
    ckpt = osp.join(tmp_path, 'model.pth')
    open(ckpt, 'wb').close()  # never loaded: the checks stop short of it
    work_dir = osp.join(tmp_path, 'rank')
    tool = load_tool(repo_root)
    monkeypatch.setattr(tool, 'check_checkpoint', lambda *args, **kw: None)

    def build_runner(cfg):
        raise RunnerReached

    monkeypatch.setattr(tool, 'build_runner', build_runner)
    monkeypatch.setattr(sys, 'argv', [
        'rank_targets.py', osp.join(repo_root, CONFIG), ckpt, '--work-dir',
        work_dir, '--launcher', 'pytorch', '--cfg-options', *TINY,
        f'train_dataloader.dataset.target.data_root={cs}'])
    with gpu_launch(monkeypatch, rank=1, world_size=2) as calls:
        with pytest.raises(RunnerReached):
            tool.main()
    assert [launcher for launcher, _ in calls] == ['pytorch']
    assert not osp.exists(osp.join(work_dir, '.todo'))
    assert not osp.exists(osp.join(work_dir, 'images.txt'))  # rank 0's


def test_two_slurm_tasks_rank_like_one(repo_root, ranked, tmp_path):
    """--launcher slurm on CPU: two tasks started as srun starts them
    (SLURM_* variables, `scontrol` naming the first node) write the same
    files as one process."""
    single = osp.join(ranked['tmp'], 'single_for_slurm')
    rank(repo_root, ranked['cs'], ranked['ckpt'], single)
    out = osp.join(ranked['tmp'], 'slurm')
    bin_dir = fake_scontrol(str(tmp_path))
    cmd = rank_cmd(ranked['cs'], ranked['ckpt'], out, '--launcher', 'slurm')
    env = {k: v for k, v in os.environ.items()
           if k not in ('MASTER_ADDR', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK')}
    with socket.socket() as s:  # a free rendezvous port
        s.bind(('127.0.0.1', 0))
        env['MASTER_PORT'] = str(s.getsockname()[1])
    env.update(PYTHONPATH=repo_root,
               PATH=bin_dir + os.pathsep + os.environ['PATH'],
               SLURM_NTASKS='2', SLURM_NODELIST='node-[a-b]',
               SLURM_JOB_ID='1')
    procs = [subprocess.Popen(
        cmd, cwd=repo_root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env=dict(env, SLURM_PROCID=str(i), SLURM_LOCALID=str(i)),
        start_new_session=True) for i in range(2)]
    try:
        logs = [p.communicate(timeout=300)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                kill_group(p)
    assert [p.returncode for p in procs] == [0, 0], logs[0][-3000:] + \
        logs[1][-3000:]
    assert snapshot(out) == snapshot(single)
