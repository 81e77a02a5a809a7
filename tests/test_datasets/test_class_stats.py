"""Class statistics files (DAFormer's layout): counting, writing, loading."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from mmseg_uda.datasets.class_stats import (ClassStatsError,
                                            count_class_pixels,
                                            load_class_stats,
                                            sample_class_stats,
                                            write_class_stats)
from tests.reference.daformer_rcs import ref_save_class_stats


def test_count_class_pixels_ignores_255():
    rng = np.random.default_rng(0)
    label = rng.choice([0, 3, 18, 255], size=(7, 11)).astype(np.uint8)
    counts = count_class_pixels(label)
    assert list(counts) == [0, 3, 18]
    for c, n in counts.items():
        assert n == int((label == c).sum())
    assert sum(counts.values()) == int((label != 255).sum())
    with pytest.raises(TypeError, match='integers'):
        count_class_pixels(label.astype(np.float32))


def test_written_files_have_daformer_layout(tmp_path):
    rng = np.random.default_rng(1)
    stats = [sample_class_stats(
        rng.integers(0, 5, (4, 4), dtype=np.uint8), f'l/{i}.png')
        for i in range(3)]
    write_class_stats(str(tmp_path), stats)
    with open(tmp_path / 'sample_class_stats.json') as f:
        per_image = json.load(f)
    with open(tmp_path / 'samples_with_class.json') as f:
        with_class = json.load(f)
    assert (per_image, with_class) == ref_save_class_stats(stats)
    assert sorted(os.listdir(tmp_path)) == [
        'sample_class_stats.json', 'samples_with_class.json']
    loaded, loaded_with_class = load_class_stats(str(tmp_path))
    assert loaded == stats
    assert loaded_with_class == {
        int(c): [tuple(p) for p in v] for c, v in with_class.items()}


@pytest.mark.parametrize('name,content,match', [
    ('sample_class_stats.json', '{"a": 1}', 'list of per-image entries'),
    ('sample_class_stats.json', '[{"1": 5}]', 'entry 0 .*"file"'),
    ('sample_class_stats.json', '[{"x": 5, "file": "f"}]',
     "'x' is not a class id"),
    ('sample_class_stats.json', '[{"1": 2.5, "file": "f"}]', 'pixel count'),
    ('samples_with_class.json', '[]', 'map class ids'),
    ('samples_with_class.json', '{"1": [["f"]]}', r'\[file, pixels\]'),
    ('samples_with_class.json', 'not json', 'cannot read'),
])
def test_malformed_files_name_the_file(tmp_path, name, content, match):
    write_class_stats(str(tmp_path), [{1: 5, 'file': 'f'}])
    with open(tmp_path / name, 'w') as f:
        f.write(content)
    with pytest.raises(ClassStatsError, match=match) as err:
        load_class_stats(str(tmp_path))
    assert osp.join(str(tmp_path), name) in str(err.value)


def test_missing_file_names_path_and_command(tmp_path):
    write_class_stats(str(tmp_path), [{1: 5, 'file': 'f'}])
    os.remove(tmp_path / 'samples_with_class.json')
    with pytest.raises(ClassStatsError) as err:
        load_class_stats(str(tmp_path), command='python convert.py ROOT')
    assert osp.join(str(tmp_path), 'samples_with_class.json') in str(
        err.value)
    assert 'python convert.py ROOT' in str(err.value)
