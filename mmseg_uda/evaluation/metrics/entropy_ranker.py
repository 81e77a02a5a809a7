"""IntraDA's entropy ranking of target images, as an mmengine metric.

Run through :class:`~mmseg_uda.evaluation.TargetSetLoop` (mmengine's test
loop, ``tools/rank_targets.py``), so it batches, runs distributed and
resumes like every target-set job. The metric streams every file to a
:class:`~mmseg_uda.datasets.ranking_dir.RankingDir`, which owns the
directory's layout.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmseg.registry import METRICS
from torch import Tensor

from mmseg_uda.datasets.ranking_dir import RankingDir, image_key
from mmseg_uda.models.losses import \
    self_information_map as information_map

# trainIds of wall, fence, pole, traffic light, traffic sign, terrain,
# rider, truck, bus, train, motorcycle (IntraDA's rare classes)
RARE_CLASSES = (3, 4, 5, 6, 7, 9, 12, 14, 15, 16, 17)


def self_information_map(logits: Tensor) -> Tensor:
    """ADVENT's weighted self-information ``-p log2(p + 1e-30) / log2(C)``
    of the softmax of one image's logits (the loss's map, in float32).

    Args:
        logits (Tensor): (C, H, W) logits.

    Returns:
        Tensor: (C, H, W) map; its sum over classes is the normalised
        entropy.
    """
    return information_map(logits.float().softmax(dim=0)[None])[0]


def entropy_map(logits: Tensor) -> Tensor:
    """Normalised entropy ``-sum_c p log2(p + 1e-30) / log2(C)`` per pixel.

    Args:
        logits (Tensor): (C, H, W) logits.

    Returns:
        Tensor: (H, W) entropy in [0, 1].
    """
    return self_information_map(logits).sum(dim=0)


def score_logits(logits: Tensor, rare_classes: Sequence[int] = RARE_CLASSES,
                 pred: Optional[Tensor] = None
                 ) -> Tuple[float, List[int], np.ndarray]:
    """IntraDA's score, rare classes present in the argmax, and the argmax.

    The score is what IntraDA's ``entropy_rank/entropy.py`` writes: the mean
    of the weighted self-information map over classes and pixels
    (``prob_2_entropy(softmax).mean()``), i.e. the mean normalised entropy
    divided by the number of classes.

    Args:
        logits (Tensor): (C, H, W) logits at the scoring resolution.
        rare_classes (Sequence[int]): Classes counted by the normaliser.
        pred (Tensor, optional): The argmax of ``logits`` when already
            computed (mmseg's ``pred_sem_seg``, (H, W) or (1, H, W)); a
            channel argmax of a large map is not free on the CPU.

    Returns:
        tuple: the score (float), sorted rare classes present (list[int]),
        argmax (np.ndarray, uint8, (H, W)).
    """
    # Summed in float64 and rounded to float32: the same value whatever the
    # number of threads (a float32 mean over C*H*W values is split across
    # threads, and its last bits depend on how many).
    entropy = float(self_information_map(logits).double().mean().float())
    if pred is None:
        pred = logits.argmax(dim=0)
    elif tuple(pred.shape[-2:]) != tuple(logits.shape[-2:]):
        raise ValueError(f'argmax of shape {tuple(pred.shape)} does not '
                         f'match logits of shape {tuple(logits.shape)}')
    pred = pred.reshape(logits.shape[-2:]).to(torch.uint8).cpu().numpy()
    present = sorted(set(np.unique(pred).tolist()) & set(rare_classes))
    return entropy, present, pred


@METRICS.register_module()
class EntropyRanker(BaseMetric):
    """Rank images by the mean entropy of the prediction (IntraDA).

    ``process`` scores every image from its ``seg_logits`` (the main head,
    at the input size: ``test_cfg`` ``output_at_input_size``) and writes
    the per-image result (argmax PNG, then a JSON that marks it done) into
    ``out_dir`` atomically, so an interrupted run resumes without
    recomputing them. ``compute_metrics`` (rank 0, after all ranks finished)
    ranks every image of ``out_dir/images.txt`` (or of the processed ones
    when that file is absent), and writes ``easy_split.txt`` (lowest
    ``int(N * easy_ratio)``), ``hard_split.txt``, ``scores.csv`` and the
    easy split's pseudo-labels.

    Score: IntraDA's, the mean of the weighted self-information map over
    classes and pixels (the mean normalised entropy divided by C, in
    [0, 1 / C]). With ``rare_normalize`` the score is multiplied by
    ``(n_rare - n_rare_present) / n_rare + 0.5``.

    Args:
        out_dir (str): The ranking directory.
        easy_ratio (float): lambda, the easy fraction. Defaults to 0.67.
        rare_normalize (bool): Use the rare-class normaliser.
        rare_classes (Sequence[int]): Rare trainIds of the normaliser.
        img_suffix (str): Image suffix removed to name images
            ``<city>/<stem>``.
        collect_device (str): Device to collect results on.
        prefix (str, optional): Prefix of the metric names.
        model_id (str, optional): What identifies the model (e.g. its
            checkpoint path, size and time); recorded with each per-image
            result, and only results of this model are ranked.
    """

    default_prefix: Optional[str] = 'rank'

    def __init__(self,
                 out_dir: str,
                 easy_ratio: float = 0.67,
                 rare_normalize: bool = False,
                 rare_classes: Sequence[int] = RARE_CLASSES,
                 img_suffix: str = '_leftImg8bit.png',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 model_id: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.model_id = model_id
        if not 0.0 <= easy_ratio <= 1.0:
            raise ValueError(f'easy_ratio must be in [0, 1], got '
                             f'{easy_ratio}')
        self.out_dir = out_dir
        self.dir = RankingDir(out_dir)
        self.easy_ratio = easy_ratio
        self.rare_normalize = rare_normalize
        self.rare_classes = tuple(int(c) for c in rare_classes)
        self.img_suffix = img_suffix

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Score each image and write its per-image result.

        Args:
            data_batch (dict): The batch (unused).
            data_samples (Sequence[dict]): Outputs with ``seg_logits`` and
                ``img_path``.
        """
        for sample in data_samples:
            name = image_key(sample['img_path'], self.img_suffix)
            logits = sample['seg_logits']['data']
            # the test step's argmax of these logits, reused
            pred = sample.get('pred_sem_seg', {}).get('data')
            entropy, present, pred = score_logits(logits, self.rare_classes,
                                                  pred)
            self.dir.write_result(
                dict(name=name, entropy=entropy, rare_present=present,
                     shape=list(pred.shape), model=self.model_id), pred)
            self.results.append(name)

    def pending(self, names: Sequence[str]) -> Optional[List[str]]:
        """Prepare ``out_dir`` for ranking ``names``; the images to run.

        Results of another model (``model_id``) are stale: they are
        computed again, never reused. Called on the main process before
        the loop runs.

        Args:
            names (Sequence[str]): The set, ``<city>/<stem>``.

        Returns:
            list[str]: Images without a result of this model (empty: only
            the ranking is (re)written).
        """
        todo = self.dir.pending(names, self.model_id)
        print_log(f'{len(names)} images to rank, {len(names) - len(todo)} '
                  f'already scored with this checkpoint in {self.out_dir}',
                  logger='current')
        return todo

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Rank all images and write the splits (main process only).

        Args:
            results (list): Names processed in this run (all ranks).

        Returns:
            dict[str, float]: ``num_images``, ``num_easy``,
            ``easy_max_score``.
        """
        names = self.dir.image_list()
        if names is None:
            names = sorted(set(results))
        return self.dir.write_ranking(
            self.easy_ratio, self.rare_normalize, len(self.rare_classes),
            names, self.model_id)
