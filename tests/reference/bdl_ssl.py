"""BDL's SSL pseudo-labels restated in memory with numpy, as SSL.py does
it (every map kept in float64 arrays), to check our constant-memory
generator against."""
from typing import List, Sequence, Tuple

import numpy as np


def bdl_pseudo_labels(probs: Sequence[np.ndarray], num_classes: int,
                      quantile: float = 0.5, cap: float = 0.9
                      ) -> Tuple[List[np.ndarray], np.ndarray]:
    """Class-wise thresholded pseudo-labels of a whole set.

    Args:
        probs (Sequence[np.ndarray]): (C, H, W) float32 probabilities per
            image (already at label size).
        num_classes (int): C.
        quantile (float): 0.5 in BDL.
        cap (float): 0.9 in BDL.

    Returns:
        tuple: uint8 labels per image and the float64 thresholds (C,).
    """
    shape = probs[0].shape[1:]
    predicted_label = np.zeros((len(probs), *shape))
    predicted_prob = np.zeros((len(probs), *shape))
    for index, output in enumerate(probs):
        output = output.transpose(1, 2, 0)
        predicted_label[index] = np.argmax(output, axis=2)
        predicted_prob[index] = np.max(output, axis=2)
    thres = []
    for i in range(num_classes):
        x = predicted_prob[predicted_label == i]
        if len(x) == 0:
            thres.append(0)
            continue
        x = np.sort(x)
        thres.append(x[int(np.round(len(x) * quantile))])
    thres = np.array(thres)
    thres[thres > cap] = cap
    labels = []
    for index in range(len(probs)):
        label = predicted_label[index].copy()
        prob = predicted_prob[index]
        for i in range(num_classes):
            label[(prob < thres[i]) * (label == i)] = 255
        labels.append(np.asarray(label, dtype=np.uint8))
    return labels, thres
