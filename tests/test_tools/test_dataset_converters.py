"""Tests of ``tools/dataset_converters/{gta,synthia,class_stats}.py``."""
import importlib.util
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.reference.daformer_rcs import ref_save_class_stats
from tests.tool_runs import run_python

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
GTA_TOOL = osp.join(REPO, 'tools', 'dataset_converters', 'gta.py')
SYNTHIA_TOOL = osp.join(REPO, 'tools', 'dataset_converters', 'synthia.py')

# Written out independently of the implementation, from the originals:
# GTA5 labelIds -> trainIds as wasidennis/AdaptSegNet dataset/gta5_dataset.py
# (``id_to_trainid``); SYNTHIA-RAND-CITYSCAPES ids (red channel) -> trainIds
# as lhoyer/DAFormer tools/convert_datasets/synthia.py (``id_to_trainid``).
GTA_MAP = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
    23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18
}
SYNTHIA_MAP = {
    3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 16: 9, 1: 10,
    10: 11, 17: 12, 8: 13, 18: 14, 19: 15, 20: 16, 12: 17, 11: 18
}
OLD_MTIME_NS = 1_000_000_000 * 10**9  # 2001-09-09


def run_tool(tool, root, *args):
    return run_python([tool, str(root), *args], repo_root=REPO, timeout=300)


def expected_trainids(ids, mapping):
    return np.vectorize(lambda v: mapping.get(int(v), 255))(ids).astype(
        np.uint8)


def gta_ids(shift):
    ids = list(GTA_MAP) + [0, 1, 34, 200, 255]
    return np.roll(np.array(ids, np.uint8), shift).reshape(4, 6)


def write_gta_label(path, ids):
    img = Image.frombytes('P', (ids.shape[1], ids.shape[0]), ids.tobytes())
    # Non-identity palette: a colour read (e.g. by OpenCV) gives other values.
    img.putpalette([(255 - i, (7 * i) % 256, (13 * i + 5) % 256)[c]
                    for i in range(256) for c in range(3)])
    img.save(path)


def synthia_ids(shift):
    ids = list(SYNTHIA_MAP) + [0, 13, 255, 1000, 65535]
    return np.roll(np.array(ids, np.uint16), shift).reshape(4, 6)


def write_synthia_label(path, ids):
    # BGR: red (index 2) is the class id, the other channels hold valid ids
    # that map to other classes, so reading the wrong channel is detected.
    bgr = np.stack([np.roll(ids, 1), np.roll(ids, 2), ids], axis=-1)
    assert cv2.imwrite(str(path), bgr.astype(np.uint16))


def make_gta(tmp_path, n=3):
    label_dir = tmp_path / 'gta' / 'labels'
    label_dir.mkdir(parents=True)
    expected = {}
    for i in range(n):
        ids = gta_ids(i)
        write_gta_label(label_dir / f'{i:05d}.png', ids)
        expected[f'{i:05d}_labelTrainIds.png'] = expected_trainids(
            ids, GTA_MAP)
    return tmp_path / 'gta', label_dir, expected


def make_synthia(tmp_path, n=3):
    label_dir = tmp_path / 'synthia' / 'GT' / 'LABELS'
    label_dir.mkdir(parents=True)
    expected = {}
    for i in range(n):
        ids = synthia_ids(i)
        write_synthia_label(label_dir / f'{i:07d}.png', ids)
        expected[f'{i:07d}_labelTrainIds.png'] = expected_trainids(
            ids, SYNTHIA_MAP)
    return tmp_path / 'synthia', label_dir, expected


LAYOUTS = {
    'gta': (GTA_TOOL, make_gta),
    'synthia': (SYNTHIA_TOOL, make_synthia),
}


def check_outputs(label_dir, expected):
    for name, trainids in expected.items():
        out = np.asarray(Image.open(label_dir / name))
        assert out.dtype == np.uint8
        np.testing.assert_array_equal(out, trainids, err_msg=name)
    # only inputs and outputs: no temp files, no double-converted outputs
    inputs = {name.replace('_labelTrainIds', '') for name in expected}
    assert sorted(os.listdir(label_dir)) == sorted(inputs | set(expected))


def test_test_data_would_break_a_wrong_reader(tmp_path):
    """Sanity check of the generated inputs themselves."""
    _, gta_dir, _ = make_gta(tmp_path, n=1)
    as_colour = cv2.imread(str(gta_dir / '00000.png'), cv2.IMREAD_UNCHANGED)
    assert as_colour.ndim == 3  # OpenCV expands the palette
    _, syn_dir, _ = make_synthia(tmp_path, n=1)
    bgr = cv2.imread(str(syn_dir / '0000000.png'), cv2.IMREAD_UNCHANGED)
    assert bgr.dtype == np.uint16
    np.testing.assert_array_equal(bgr[:, :, 2], synthia_ids(0))
    for channel in (0, 1):
        assert not np.array_equal(
            expected_trainids(bgr[:, :, channel], SYNTHIA_MAP),
            expected_trainids(bgr[:, :, 2], SYNTHIA_MAP))


@pytest.mark.slow
@pytest.mark.parametrize('kind', sorted(LAYOUTS))
def test_convert_and_rerun(tmp_path, kind):
    tool, make = LAYOUTS[kind]
    root, label_dir, expected = make(tmp_path)
    proc = run_tool(tool, root, '--nproc', '2')
    assert proc.returncode == 0, proc.stderr
    check_outputs(label_dir, expected)

    # Re-run: existing outputs are skipped, a missing one is regenerated.
    names = sorted(expected)
    for name in names[1:]:
        os.utime(label_dir / name, ns=(OLD_MTIME_NS, OLD_MTIME_NS))
    os.remove(label_dir / names[0])
    proc = run_tool(tool, root, '--nproc', '1')
    assert proc.returncode == 0, proc.stderr
    for name in names[1:]:
        assert os.stat(label_dir / name).st_mtime_ns == OLD_MTIME_NS
    assert os.stat(label_dir / names[0]).st_mtime_ns != OLD_MTIME_NS
    check_outputs(label_dir, expected)


@pytest.mark.slow
@pytest.mark.parametrize('kind,nproc', [('gta', '2'), ('synthia', '1')])
def test_corrupt_input(tmp_path, kind, nproc):
    tool, make = LAYOUTS[kind]
    root, label_dir, expected = make(tmp_path, n=2)
    bad = label_dir / ('z' * 5 + '.png')
    bad.write_bytes(b'\x89PNG\r\n\x1a\n garbage')
    proc = run_tool(tool, root, '--nproc', nproc)
    assert proc.returncode != 0
    assert str(bad) in proc.stderr
    assert not (label_dir / ('z' * 5 + '_labelTrainIds.png')).exists()
    assert not [n for n in os.listdir(label_dir) if n.startswith('.')]


@pytest.mark.parametrize('kind', sorted(LAYOUTS))
def test_missing_root(tmp_path, capsys, kind):
    # In-process (same code path as the script) to save a process start-up.
    tool, _ = LAYOUTS[kind]
    spec = importlib.util.spec_from_file_location(f'_{kind}_tool', tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    missing = tmp_path / 'does_not_exist'
    assert module.main([str(missing)]) != 0
    assert str(missing) in capsys.readouterr().err


def direct_stats(label_dir, expected):
    """Per-file pixel counts of the expected trainIds, 255 left out."""
    stats = []
    for name in sorted(expected):
        values, counts = np.unique(expected[name], return_counts=True)
        entry = {str(v): int(n) for v, n in zip(values, counts) if v != 255}
        entry['file'] = str(label_dir / name)
        stats.append(entry)
    return stats


def read_stats(root):
    with open(root / 'sample_class_stats.json') as f:
        per_image = json.load(f)
    with open(root / 'samples_with_class.json') as f:
        with_class = json.load(f)
    return per_image, with_class


@pytest.mark.slow
@pytest.mark.parametrize('kind', sorted(LAYOUTS))
def test_class_statistics_and_rerun(tmp_path, kind):
    tool, make = LAYOUTS[kind]
    root, label_dir, expected = make(tmp_path, n=4)
    proc = run_tool(tool, root, '--nproc', '2')
    assert proc.returncode == 0, proc.stderr
    per_image, with_class = read_stats(root)
    direct = direct_stats(label_dir, expected)
    assert per_image == direct
    # DAFormer's layout (save_class_stats in lhoyer/MIC
    # seg/tools/convert_datasets/gta.py), class keys in ascending order
    assert (per_image, with_class) == ref_save_class_stats(direct)
    for entry in per_image:
        keys = [int(k) for k in entry if k != 'file']
        assert keys == sorted(keys)
    before = [(root / n).read_bytes()
              for n in ('sample_class_stats.json', 'samples_with_class.json')]

    # an interrupted run: half the outputs missing; the re-run counts the
    # skipped files from their outputs, so the statistics are the same
    for name in sorted(expected)[::2]:
        os.remove(label_dir / name)
    proc = run_tool(tool, root, '--nproc', '1')
    assert proc.returncode == 0, proc.stderr
    assert '2 already converted, 2 to convert' in proc.stdout
    after = [(root / n).read_bytes()
             for n in ('sample_class_stats.json', 'samples_with_class.json')]
    assert after == before
    assert not [n for n in os.listdir(root) if n.startswith('.')]


def _load_tool(name):
    spec = importlib.util.spec_from_file_location(f'_{name}_tool', osp.join(
        REPO, 'tools', 'dataset_converters', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_class_stats_tool(tmp_path, capsys):
    root = tmp_path / 'set'
    label_dir = root / 'gt' / 'train'
    label_dir.mkdir(parents=True)
    expected = {}
    rng = np.random.default_rng(0)
    for i in range(3):
        label = rng.integers(0, 19, (6, 9), dtype=np.uint8)
        label[0] = 255
        cv2.imwrite(str(label_dir / f'{i}_labelTrainIds.png'), label)
        expected[f'{i}_labelTrainIds.png'] = label
    (label_dir / 'ignored.png').write_bytes(b'not a label')
    tool = _load_tool('class_stats')
    assert tool.main([str(root), '--label-dir', 'gt', '--nproc', '1']) == 0
    per_image, with_class = read_stats(root)
    direct = direct_stats(label_dir, expected)
    assert (per_image, with_class) == ref_save_class_stats(direct)
    # errors name the directory
    assert tool.main([str(root), '--label-dir', 'nothing']) != 0
    assert str(root / 'nothing') in capsys.readouterr().err
