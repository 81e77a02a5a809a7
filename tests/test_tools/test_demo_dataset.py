"""Tests of the demo street-scene generator and its command line tools."""
import importlib.util
import json
import os
import os.path as osp
from typing import Dict, List

import cv2
import numpy as np
import pytest

from tools.demo import demo_dataset
from tools.demo.demo_dataset import (DOMAINS, demo_dataset_params,
                                     generate_demo_dataset, generate_split,
                                     is_complete, render_sample, sample_paths,
                                     sample_rngs)
from tools.demo.street_layout import CLASS_IDS, ROAD, SKY, sample_layout
from tools.demo.street_rendering import render_source, render_target

SIZE = (32, 64)
SMALL = dict(num_source_train=3, num_source_val=2, num_target_train=3,
             num_target_val=2, size=SIZE)


def _tree(root: str) -> Dict[str, bytes]:
    """Relative path -> content of every file under ``root``."""
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                files[osp.relpath(path, root)] = f.read()
    return files


def _scenes(domain: str, num: int, size=SIZE) -> List[tuple]:
    """``(layout, image)`` pairs rendered exactly as the generator does."""
    render = render_source if domain == 'source' else render_target
    out = []
    for i in range(num):
        layout_rng, render_rng = sample_rngs(0, domain, 'train', i)
        layout = sample_layout(layout_rng, size)
        out.append((layout, render(layout, render_rng)))
    return out


def _load_tool(repo_root: str, name: str):
    path = osp.join(repo_root, 'tools', 'demo', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'demo_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_layout_classes():
    seen = set()
    for seed in range(8):
        layout = sample_layout(np.random.default_rng(seed), SIZE)
        assert layout.label.shape == SIZE and layout.label.dtype == np.uint8
        assert layout.instance.shape == SIZE
        ids = set(np.unique(layout.label).tolist())
        assert ids <= set(CLASS_IDS)
        assert SKY in ids and ROAD in ids
        seen |= ids
    assert seen == set(CLASS_IDS)
    assert CLASS_IDS == (0, 1, 2, 8, 10, 11, 13)


def test_layout_geometry():
    layout = sample_layout(np.random.default_rng(3), (128, 256))
    label = layout.label
    assert label[0].tolist().count(ROAD) == 0  # sky/buildings on top
    assert np.mean(label[-1] == ROAD) > 0.2  # road at the bottom
    for i, obj in enumerate(layout.objects, 1):
        assert np.all(label[layout.instance == i] == obj.cls)


def test_renderers_shapes():
    for domain in DOMAINS:
        layout, img = _scenes(domain, 1)[0]
        assert img.shape == SIZE + (3, ) and img.dtype == np.uint8
    with pytest.raises(ValueError):
        sample_layout(np.random.default_rng(0), (8, 8))
    with pytest.raises(ValueError):
        render_sample(0, 'other', 'train', 0, SIZE)


def test_appearance_gap():
    def class_means(scenes):
        sums = {c: [] for c in CLASS_IDS}
        for layout, img in scenes:
            for c in CLASS_IDS:
                if np.any(layout.label == c):
                    sums[c].append(img[layout.label == c].mean(0))
        return {c: np.mean(v, 0) for c, v in sums.items() if v}

    def interior_hf(scenes):
        """Median |Laplacian| over pixels away from label boundaries."""
        values = []
        for layout, img in scenes:
            grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
            lap = np.abs(cv2.Laplacian(grey, cv2.CV_32F))
            lbl = layout.label.astype(np.float32)
            edges = cv2.dilate((cv2.Laplacian(lbl, cv2.CV_32F) != 0)
                               .astype(np.uint8), np.ones((5, 5), np.uint8))
            values.append(lap[edges == 0])
        return float(np.median(np.concatenate(values)))

    src, tgt = _scenes('source', 6, (64, 128)), _scenes('target', 6, (64, 128))
    ms, mt = class_means(src), class_means(tgt)
    dists = [np.linalg.norm(ms[c] - mt[c]) for c in ms if c in mt]
    assert len(dists) >= 5
    assert np.median(dists) > 30
    assert interior_hf(tgt) > interior_hf(src) + 5
    # the source is flat: most interior pixels have exactly zero Laplacian
    assert interior_hf(src) == 0


def test_generate_layout_and_paths(tmp_path):
    root = str(tmp_path / 'demo')
    assert generate_demo_dataset(root, seed=1, **SMALL) is True
    files = set(_tree(root))
    expected = {'.complete', 'source/train.txt', 'source/val.txt',
                'source/sample_class_stats.json',
                'source/samples_with_class.json'}
    for split, num in (('train', 3), ('val', 2)):
        for i in range(num):
            expected |= {f'source/images/{split}_{i:05d}.png',
                         f'source/labels/{split}_{i:05d}_labelTrainIds.png'}
            stem = f'democity_{i:06d}_000019'
            expected |= {
                f'target/leftImg8bit/{split}/democity/{stem}_leftImg8bit.png',
                f'target/gtFine/{split}/democity/{stem}'
                '_gtFine_labelTrainIds.png'}
    assert files == expected
    with open(osp.join(root, 'source', 'train.txt')) as f:
        assert f.read() == 'train_00000\ntrain_00001\ntrain_00002\n'
    with open(osp.join(root, 'source', 'val.txt')) as f:
        assert f.read().split() == ['val_00000', 'val_00001']
    # class statistics (rare class sampling) of the training split only
    with open(osp.join(root, 'source', 'sample_class_stats.json')) as f:
        stats = json.load(f)
    assert [e['file'] for e in stats] == [
        f'labels/train_{i:05d}_labelTrainIds.png' for i in range(3)]
    label = cv2.imread(osp.join(root, 'source', stats[0]['file']), 0)
    assert {int(k): v for k, v in stats[0].items() if k != 'file'} == {
        int(c): int((label == c).sum()) for c in np.unique(label)
        if c != 255}
    with open(osp.join(root, '.complete')) as f:
        marker = json.load(f)
    assert marker['seed'] == 1 and marker['size'] == list(SIZE)
    assert marker['num_source_train'] == 3 and marker['num_target_val'] == 2
    for domain in DOMAINS:
        img_path, lbl_path = sample_paths(root, domain, 'val', 1)
        img = cv2.imread(img_path, cv2.IMREAD_UNCHANGED)
        lbl = cv2.imread(lbl_path, cv2.IMREAD_UNCHANGED)
        assert img.shape == SIZE + (3, ) and img.dtype == np.uint8
        assert lbl.shape == SIZE and lbl.dtype == np.uint8
        assert set(np.unique(lbl).tolist()) <= set(CLASS_IDS)
    # images are stored in BGR order: the source sky (blue) has B > R
    img = cv2.imread(sample_paths(root, 'source', 'train', 0)[0])
    lbl = cv2.imread(sample_paths(root, 'source', 'train', 0)[1], 0)
    sky = img[lbl == SKY].mean(0)
    assert sky[0] > sky[2] + 50


def test_determinism_and_streams(tmp_path):
    a, b, c = (str(tmp_path / n) for n in 'abc')
    generate_demo_dataset(a, seed=5, **SMALL)
    generate_demo_dataset(b, seed=5, **SMALL)
    generate_demo_dataset(c, seed=6, **SMALL)
    files_a, files_b, files_c = _tree(a), _tree(b), _tree(c)
    assert files_a == files_b
    images = [k for k in files_a if k.endswith('.png')]
    assert all(files_a[k] != files_c[k] for k in images)
    # source and target (and train and val) are different scenes
    labels = {}
    for domain in DOMAINS:
        for split in ('train', 'val'):
            path = sample_paths(a, domain, split, 0)[1]
            labels[domain, split] = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    values = list(labels.values())
    for i in range(len(values)):
        for j in range(i + 1, len(values)):
            assert not np.array_equal(values[i], values[j])


def test_render_sample_matches_files(tmp_path):
    root = str(tmp_path)
    generate_split(root, 'source', 'val', 2, SIZE, 4)
    img, label = render_sample(4, 'source', 'val', 1, SIZE)
    img_path, label_path = sample_paths(root, 'source', 'val', 1)
    assert np.array_equal(cv2.imread(img_path)[..., ::-1], img)
    assert np.array_equal(cv2.imread(label_path, cv2.IMREAD_UNCHANGED), label)


def test_sample_independent_of_count(tmp_path):
    generate_split(str(tmp_path / 'a'), 'target', 'train', 2, SIZE, 0)
    generate_split(str(tmp_path / 'b'), 'target', 'train', 4, SIZE, 0)
    for i in range(2):
        pa = sample_paths(str(tmp_path / 'a'), 'target', 'train', i)
        pb = sample_paths(str(tmp_path / 'b'), 'target', 'train', i)
        for x, y in zip(pa, pb):
            with open(x, 'rb') as fx, open(y, 'rb') as fy:
                assert fx.read() == fy.read()


def test_skip_if_complete(tmp_path, monkeypatch):
    root = str(tmp_path / 'demo')
    assert generate_demo_dataset(root, seed=0, **SMALL)
    before = _tree(root)

    def fail(*args, **kwargs):
        raise AssertionError('generate_split must not run')

    monkeypatch.setattr(demo_dataset, 'generate_split', fail)
    assert generate_demo_dataset(root, seed=0, **SMALL) is False
    assert _tree(root) == before
    monkeypatch.undo()
    # other parameters regenerate, and stale files of shrunk splits go away
    fewer = dict(SMALL, num_source_train=1, num_target_train=1)
    assert generate_demo_dataset(root, seed=0, **fewer) is True
    after = _tree(root)
    assert 'source/images/train_00001.png' not in after
    assert not any('democity_000001_000019' in k and '/train/' in k
                   for k in after)
    assert after['source/train.txt'] == b'train_00000\n'
    assert json.loads(after['.complete'])['num_source_train'] == 1
    assert not [k for k in after if osp.basename(k).startswith('.tmp_')]
    # a missing marker (interrupted run) means incomplete
    os.remove(osp.join(root, '.complete'))
    assert not is_complete(root, demo_dataset_params(**fewer))


def test_interrupted_run_leaves_no_marker(tmp_path, monkeypatch):
    root = str(tmp_path / 'demo')
    calls = []

    def progress():
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_demo_dataset(root, seed=0, progress=progress, **SMALL)
    assert not osp.exists(osp.join(root, '.complete'))
    assert generate_demo_dataset(root, seed=0, **SMALL) is True


def test_cli_and_preview(tmp_path, repo_root, capsys):
    gen = _load_tool(repo_root, 'generate_data')
    root = str(tmp_path / 'demo')
    argv = [root, '--seed', '2', '--size', '32', '64', '--num-source-train',
            '2', '--num-source-val', '1', '--num-target-train', '2',
            '--num-target-val', '1']
    assert gen.main(argv) == 0
    assert 'wrote' in capsys.readouterr().out
    assert is_complete(root, demo_dataset_params(2, 1, 2, 1, SIZE, 2))
    assert gen.main(argv) == 0
    assert 'already complete' in capsys.readouterr().out

    preview = _load_tool(repo_root, 'preview')
    out = str(tmp_path / 'preview.png')
    assert preview.main([root, out, '--num', '2', '--scale', '1']) == 0
    grid = cv2.imread(out)
    assert grid.shape == (2 * 32 + 2, 4 * 64 + 3 * 2, 3)
