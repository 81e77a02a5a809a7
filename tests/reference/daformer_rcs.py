"""DAFormer's rare class sampling, re-stated for tests.

Re-stated from reading lhoyer/MIC, folder ``seg/``:

- ``mmseg/datasets/uda_dataset.py``: ``get_rcs_class_probs`` (totals per
  class over ``sample_class_stats.json``, sorted ascending by total with a
  stable sort, ``freq = 1 - n / sum(n)`` in torch float32, then
  ``softmax(freq / temperature)``); ``UDADataset.__init__`` (keep the files
  of ``samples_with_class.json`` with ``pixels > min_pixels``, strictly, by
  basename; assert every class keeps one); ``get_rare_class_sample`` (reload
  the image ``for j in range(10)`` while the crop has not
  ``n_class > min_pixels * min_crop_ratio``, strictly; only when
  ``min_crop_ratio > 0``);
- ``tools/convert_datasets/gta.py``: ``save_class_stats`` (the JSON layout).

The numbers of DAFormer's config
``seg/configs/daformer/gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py``
are quoted below as its text has them.
"""
import copy
from typing import Callable, Dict, List, Tuple

import numpy as np
import torch

#: ``data.train.rare_class_sampling`` of
#: ``gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py``.
DAFORMER_CONFIG_TEXT = '''
        rare_class_sampling=dict(
            min_pixels=3000, class_temp=0.01, min_crop_ratio=0.5)))
'''

#: ``for j in range(10)`` in ``get_rare_class_sample``.
REF_CROP_RETRIES = 10


def ref_rcs_class_probs(sample_class_stats: List[dict],
                        temperature: float) -> Tuple[list, np.ndarray]:
    """``get_rcs_class_probs`` on already loaded JSON (string class keys)."""
    sample_class_stats = copy.deepcopy(sample_class_stats)
    overall_class_stats = {}
    for s in sample_class_stats:
        s.pop('file')
        for c, n in s.items():
            c = int(c)
            if c not in overall_class_stats:
                overall_class_stats[c] = n
            else:
                overall_class_stats[c] += n
    overall_class_stats = {
        k: v
        for k, v in sorted(
            overall_class_stats.items(), key=lambda item: item[1])
    }
    freq = torch.tensor(list(overall_class_stats.values()))
    freq = freq / torch.sum(freq)
    freq = 1 - freq
    freq = torch.softmax(freq / temperature, dim=-1)
    return list(overall_class_stats.keys()), freq.numpy()


def ref_samples_with_class(samples_with_class_and_n: dict, rcs_classes,
                           min_pixels: int) -> Dict[int, List[str]]:
    """The per-class file lists of ``UDADataset.__init__`` (basenames)."""
    samples_with_class_and_n = {
        int(k): v
        for k, v in samples_with_class_and_n.items() if int(k) in rcs_classes
    }
    out = {}
    for c in rcs_classes:
        out[c] = []
        for file, pixels in samples_with_class_and_n[c]:
            if pixels > min_pixels:
                out[c].append(file.split('/')[-1])
        assert len(out[c]) > 0
    return out


def ref_rare_class_crop(load: Callable[[], torch.Tensor], c: int,
                        min_pixels: int,
                        min_crop_ratio: float) -> Tuple[torch.Tensor, int]:
    """The crop-retry loop: returns the kept label and the number of loads.

    ``load()`` returns the label of a new random crop of the drawn image.
    """
    label, loads = load(), 1
    if min_crop_ratio > 0:
        for _ in range(REF_CROP_RETRIES):
            n_class = torch.sum(label == c)
            if n_class > min_pixels * min_crop_ratio:
                break
            label, loads = load(), loads + 1
    return label, loads


def ref_save_class_stats(sample_class_stats: List[dict]) -> Tuple[list,
                                                                  dict]:
    """The two JSON documents of ``save_class_stats`` (as loaded back)."""
    import json
    first = json.loads(json.dumps(sample_class_stats))
    by_file = {}
    for stats in copy.deepcopy(sample_class_stats):
        f = stats.pop('file')
        by_file[f] = stats
    samples_with_class = {}
    for file, stats in by_file.items():
        for c, n in stats.items():
            if c not in samples_with_class:
                samples_with_class[c] = [(file, n)]
            else:
                samples_with_class[c].append((file, n))
    return first, json.loads(json.dumps(samples_with_class))
