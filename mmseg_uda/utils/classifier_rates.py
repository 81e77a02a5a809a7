"""Keep the first convs of a DeepLab-v2 classifier in an mmseg state dict.

The originals' classifier holds one 3x3 conv per rate (6, 12, 18, 24). Some of
their networks sum only the first two: AdaptSegNet's ``model/deeplab_multi.py``
and BDL's perceptual network ``cyclegan/deeplab.py`` return inside the loop
over the convs. Such a network is a ``DeepLabV2Head`` with
``dilations=(6, 12)`` whose weights are the first two convs of the trained
four-conv classifier.
"""
import re
from collections import OrderedDict
from typing import Mapping

import torch


def keep_first_rates(state_dict: Mapping[str, torch.Tensor],
                     num_rates: int,
                     head: str = 'decode_head'
                     ) -> 'OrderedDict[str, torch.Tensor]':
    """Drop the classifier convs of ``head`` from index ``num_rates`` on.

    Args:
        state_dict (Mapping[str, Tensor]): mmseg keys (``backbone.*``,
            ``decode_head.convs.<i>.*``, ...).
        num_rates (int): Convs to keep (the first ``num_rates``).
        head (str): The head whose convs are cut. Other keys are kept as
            they are.

    Returns:
        OrderedDict[str, Tensor]: The state dict without the dropped convs.

    Raises:
        ValueError: If ``num_rates`` < 1, or ``head`` holds fewer convs.
    """
    if num_rates < 1:
        raise ValueError(f'num_rates must be >= 1, got {num_rates}')
    pattern = re.compile(rf'^{re.escape(head)}\.convs\.(\d+)\.')
    found = 0
    out = OrderedDict()
    for key, value in state_dict.items():
        match = pattern.match(key)
        if match is not None:
            index = int(match.group(1))
            found = max(found, index + 1)
            if index >= num_rates:
                continue
        out[key] = value
    if found < num_rates:
        raise ValueError(f'num_rates={num_rates} but {head} holds only '
                         f'{found} convs')
    return out
