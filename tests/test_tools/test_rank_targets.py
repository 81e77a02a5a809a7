"""tools/rank_targets.py: ranking against an independent computation, and
a resumed run that equals an uninterrupted one byte for byte."""
import os
import os.path as osp
import shutil
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

from tests.reference.tiny_layouts import make_cityscapes
from tests.tool_runs import kill_midway, run, start, tool_env, torchrun

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


def rank(repo_root, cs, ckpt, work_dir, *flags):
    cmd = [sys.executable, 'tools/rank_targets.py', CONFIG, ckpt,
           '--work-dir', work_dir, *flags, '--cfg-options', *TINY,
           f'train_dataloader.dataset.target.data_root={cs}',
           f'test_dataloader.dataset.pipeline.1.scale=({SIZE[0]},{SIZE[1]})',
           'test_dataloader.num_workers=0',
           'test_dataloader.persistent_workers=False']
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
                               mode='bilinear', align_corners=True)[0]
    prob = logits.softmax(0).double()
    ent = -(prob * torch.log2(prob + 1e-30)).sum(0) / np.log2(19)
    return float(ent.mean()), logits.argmax(0).numpy()


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

    out = rank(repo_root, cs, ckpt, part)
    assert f'{num} images to rank, {done} already scored' in out
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
