"""A re-statement of IntraDA's entropy ranking score (plain torch).

Written from feipan664/IntraDA ``entropy_rank/entropy.py`` (``main``'s loop,
``find_rare_class``, the ``--normalize`` flag) and ADVENT's
``advent/utils/func.py`` (``prob_2_entropy``), used only as a reference in
tests. IntraDA upsamples the main logits to 1024x512 (bilinear,
``align_corners=True``) before scoring; the logits given here are already at
the scoring resolution.
"""
import argparse

import numpy as np
import torch
import torch.nn.functional as F

# wall, fence, pole, traffic light, traffic sign, terrain, rider, truck,
# bus, train, motorcycle
RARE_CLASS = [3, 4, 5, 6, 7, 9, 12, 14, 15, 16, 17]


def prob_2_entropy(prob: torch.Tensor) -> torch.Tensor:
    """ADVENT's weighted self-information map of (N, C, H, W) probabilities."""
    _, c, _, _ = prob.size()
    return -torch.mul(prob, torch.log2(prob + 1e-30)) / np.log2(c)


def find_rare_class(pred_trg_main: torch.Tensor) -> set:
    """Rare classes present in the argmax of (1, C, H, W) logits."""
    mask = np.argmax(pred_trg_main[0].numpy().transpose(1, 2, 0), axis=2)
    return set(np.unique(mask).tolist()).intersection(RARE_CLASS)


def intrada_score(pred_trg_main: torch.Tensor, normalize: bool) -> float:
    """The value IntraDA ranks an image by (``entropy_list``)."""
    if normalize:
        normalizor = (11 - len(find_rare_class(pred_trg_main))) / 11.0 + 0.5
    else:
        normalizor = 1
    pred_trg_entropy = prob_2_entropy(F.softmax(pred_trg_main, dim=1))
    return pred_trg_entropy.mean().item() * normalizor


def parse_normalize(argv: list) -> bool:
    """``--normalize`` as entropy.py declares it: ``type=bool``."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--normalize', type=bool, default=False)
    return parser.parse_args(argv).normalize
