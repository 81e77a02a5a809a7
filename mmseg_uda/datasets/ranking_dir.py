"""Files of an entropy ranking (IntraDA): names, atomic writes, splits.

Layout of a ranking directory (``rank_dir``)::

    images.txt            the set to rank, one ``<city>/<stem>`` per line
    per_image/<city>/<stem>.json
                          per-image result: mean normalised entropy,
                          rare classes in the argmax, score resolution and
                          the model (checkpoint) that computed it
    predictions/<city>/<stem>_gtFine_labelTrainIds.png
                          argmax (trainIds) of every ranked image
    scores.csv            name, score, entropy, n_rare, split; easiest first
    easy_split.txt        lowest-scoring ``int(N * easy_ratio)`` images
    hard_split.txt        the rest (both ``<city>/<stem>``, ranked order)
    pseudo_labels/<city>/<stem>_gtFine_labelTrainIds.png
                          the easy split's predictions only
    ranking.json          settings, sizes and model of the last ranking

A per-image result of another model than the current one does not count as
done: it is computed again (and the splits, scores and pseudo-labels are
rewritten from the current model's results only).

The split files are ``ann_file`` lists for mmseg's ``CityscapesDataset``;
``pseudo_labels`` is its ``seg_map_path``. :class:`RankingDir` owns this
layout: every name, write, resume and staleness decision about such a
directory goes through it.
"""
import json
import logging
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log

from mmseg_uda.utils.atomic_io import (atomic_copy, atomic_write_png,
                                       atomic_write_text)

PER_IMAGE_DIR = 'per_image'
PREDICTION_DIR = 'predictions'
PSEUDO_LABEL_DIR = 'pseudo_labels'
IMAGE_LIST = 'images.txt'
LABEL_SUFFIX = '_gtFine_labelTrainIds.png'


def prediction_path(root: str, name: str,
                    folder: str = PREDICTION_DIR) -> str:
    """Path of the label PNG of ``name`` in ``root/folder`` (the Cityscapes
    ``<city>/<stem>_gtFine_labelTrainIds.png`` naming)."""
    return osp.join(root, folder, f'{name}{LABEL_SUFFIX}')


def image_key(img_path: str, img_suffix: str = '_leftImg8bit.png') -> str:
    """``<city>/<stem>`` of an image, as mmseg's ``ann_file`` lines.

    Args:
        img_path (str): Path of the image, e.g.
            ``.../leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit
            .png``.
        img_suffix (str): Suffix removed from the file name.

    Returns:
        str: e.g. ``aachen/aachen_000000_000019``.
    """
    name = osp.basename(img_path)
    if not name.endswith(img_suffix):
        raise ValueError(f'{img_path} does not end with {img_suffix!r}')
    city = osp.basename(osp.dirname(img_path))
    return f'{city}/{name[:-len(img_suffix)]}'


def read_lines(path: str) -> List[str]:
    """Non-empty stripped lines of a text file."""
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def rare_normalizer(n_rare_present: int, n_rare: int = 11) -> float:
    """IntraDA's rare-class normaliser ``(n_rare - present)/n_rare + 0.5``.
    """
    return (n_rare - n_rare_present) / n_rare + 0.5


def image_score(result: Dict, rare_normalize: bool, n_rare: int) -> float:
    """Ranking score of a per-image result (mean entropy [x normaliser])."""
    score = result['entropy']
    if rare_normalize:
        score *= rare_normalizer(len(result['rare_present']), n_rare)
    return score


def split_ranking(names: Sequence[str], scores: Sequence[float],
                  easy_ratio: float) -> Tuple[List[str], List[str]]:
    """Sort by score (ties by name) and cut at ``int(N * easy_ratio)``.

    Args:
        names (Sequence[str]): Image names.
        scores (Sequence[float]): Their scores (lower = easier).
        easy_ratio (float): lambda, the easy fraction.

    Returns:
        tuple[list[str], list[str]]: Easy and hard names, easiest first.
    """
    order = sorted(zip(scores, names))
    ranked = [name for _, name in order]
    cut = int(len(ranked) * easy_ratio)  # IntraDA's rounding
    return ranked[:cut], ranked[cut:]


class RankingDir:
    """A ranking directory (see the module docstring for its layout).

    Args:
        root (str): The directory (``--work-dir`` of the ranking tool).
    """

    def __init__(self, root: str) -> None:
        self.root = root

    def per_image_path(self, name: str) -> str:
        """Path of the per-image result of ``name``."""
        return osp.join(self.root, PER_IMAGE_DIR, f'{name}.json')

    def prediction_path(self, name: str,
                        folder: str = PREDICTION_DIR) -> str:
        """Path of the argmax PNG of ``name`` (``folder``: predictions or
        pseudo_labels)."""
        return prediction_path(self.root, name, folder)

    def write_result(self, record: Dict, pred: np.ndarray) -> None:
        """Write the argmax PNG, then the per-image JSON that marks
        ``record['name']`` done, both atomically."""
        name = record['name']
        atomic_write_png(self.prediction_path(name), pred)
        atomic_write_text(self.per_image_path(name),
                          json.dumps(record, sort_keys=True) + '\n')

    def read_result(self, name: str) -> Optional[Dict]:
        """The per-image result of ``name``, or None when it has none."""
        path = self.per_image_path(name)
        if not osp.isfile(path):
            return None
        with open(path) as f:
            return json.load(f)

    def is_done(self, name: str, model_id: Optional[str] = None) -> bool:
        """Whether ``name`` has a complete per-image result (JSON written
        last); when ``model_id`` is given, only one of this model counts."""
        if not osp.isfile(self.prediction_path(name)):
            return False
        result = self.read_result(name)
        if result is None:
            return False
        return model_id is None or result.get('model') == model_id

    def stale_results(self, names: Sequence[str],
                      model_id: Optional[str]) -> List[str]:
        """Images whose per-image result was computed by another model (or
        by an unrecorded one)."""
        stale = []
        for name in names:
            result = self.read_result(name)
            if result is not None and result.get('model') != model_id:
                stale.append(name)
        return stale

    def image_list(self) -> Optional[List[str]]:
        """The images of ``images.txt``, None when there is none."""
        path = osp.join(self.root, IMAGE_LIST)
        return read_lines(path) if osp.isfile(path) else None

    def pending(self, names: Sequence[str],
                model_id: Optional[str]) -> List[str]:
        """Prepare ranking ``names`` with ``model_id``; the images to run.

        Results of another model are stale: computed again, never reused
        (the splits are rewritten from this model's results only). Results
        of this model, e.g. of a killed run, are kept.

        Args:
            names (Sequence[str]): The set, ``<city>/<stem>``.
            model_id (str, optional): What identifies the model.

        Returns:
            list[str]: Images without a result of this model (empty: only
            the ranking is (re)written).
        """
        stale = self.stale_results(names, model_id)
        if stale:
            print_log(f'{len(stale)} images of {self.root} were scored by '
                      'another checkpoint (or an unrecorded one), e.g. '
                      f'{stale[0]}: scoring them again with {model_id}',
                      logger='current', level=logging.WARNING)
        atomic_write_text(osp.join(self.root, IMAGE_LIST),
                          ''.join(f'{n}\n' for n in names))
        return [n for n in names if not self.is_done(n, model_id)]

    def write_ranking(self,
                      easy_ratio: float = 0.67,
                      rare_normalize: bool = False,
                      n_rare: int = 11,
                      names: Optional[Sequence[str]] = None,
                      model_id: Optional[str] = None) -> Dict[str, float]:
        """Rank the per-image results; write splits, scores, pseudo-labels.

        Args:
            easy_ratio (float): lambda, fraction of images in the easy
                split.
            rare_normalize (bool): Multiply by IntraDA's rare-class
                normaliser.
            n_rare (int): Number of rare classes of the normaliser.
            names (Sequence[str], optional): The set to rank;
                ``images.txt`` by default.
            model_id (str, optional): When given, every per-image result
                must have been computed by this model.

        Returns:
            dict[str, float]: ``num_images``, ``num_easy``,
            ``easy_max_score``.
        """
        if names is None:
            names = self.image_list() or []
        missing = [n for n in names if not self.is_done(n, model_id)]
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} images have no per-image result in '
                f'{self.root}'
                f'{" of the model " + model_id if model_id else ""}, e.g. '
                f'{missing[0]}')
        results = {name: self.read_result(name) for name in names}
        scores = {n: image_score(r, rare_normalize, n_rare)
                  for n, r in results.items()}
        easy, hard = split_ranking(list(scores), list(scores.values()),
                                   easy_ratio)
        self._write_pseudo_labels(easy)
        rows = ['name,score,entropy,n_rare,split']
        for split, members in (('easy', easy), ('hard', hard)):
            for n in members:
                rows.append(f'{n},{scores[n]!r},{results[n]["entropy"]!r},'
                            f'{len(results[n]["rare_present"])},{split}')
        atomic_write_text(osp.join(self.root, 'scores.csv'),
                          '\n'.join(rows) + '\n')
        for split, members in (('easy', easy), ('hard', hard)):
            atomic_write_text(
                osp.join(self.root, f'{split}_split.txt'),
                ''.join(f'{n}\n' for n in members))
        summary = dict(
            num_images=len(names), num_easy=len(easy),
            easy_max_score=scores[easy[-1]] if easy else float('nan'))
        atomic_write_text(
            osp.join(self.root, 'ranking.json'),
            json.dumps(dict(summary, easy_ratio=easy_ratio,
                            rare_normalize=rare_normalize, model=model_id),
                       indent=2) + '\n')
        return summary

    def _write_pseudo_labels(self, easy: Sequence[str]) -> None:
        """The easy split's predictions as pseudo-labels, nothing else."""
        keep = {osp.normpath(self.prediction_path(n, PSEUDO_LABEL_DIR))
                for n in easy}
        for name in easy:
            atomic_copy(self.prediction_path(name),
                        self.prediction_path(name, PSEUDO_LABEL_DIR))
        for root, _, files in os.walk(osp.join(self.root,
                                               PSEUDO_LABEL_DIR)):
            for file in files:
                path = osp.normpath(osp.join(root, file))
                if path not in keep:
                    os.remove(path)

    def read_scores(self) -> List[Dict]:
        """Rows of ``scores.csv`` (easiest first) as dicts."""
        rows = read_lines(osp.join(self.root, 'scores.csv'))
        keys = rows[0].split(',')
        out = []
        for row in rows[1:]:
            rec = dict(zip(keys, row.split(',')))
            for key in ('score', 'entropy'):
                rec[key] = float(rec[key])
            rec['n_rare'] = int(rec['n_rare'])
            out.append(rec)
        return out
