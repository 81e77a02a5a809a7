"""Key mapping from the originals' DeepLab-v2 state dicts to mmseg keys.

AdaptSegNet, ADVENT, IntraDA and BDL save ``model.state_dict()`` of their
``ResNetMulti``/``ResNet`` class: ``conv1``, ``bn1``, ``layer1..layer4`` with
mmseg's block names, and the classifiers ``layer5``/``layer6`` holding
``conv2d_list.<i>``. Multi-level files have the auxiliary classifier in
``layer5`` and the main one in ``layer6``; single-level files have only the
main one, in ``layer5``. The ImageNet/COCO initialisation files prefix every
key with ``Scale.`` and carry a classifier for another label set, which is
dropped.
"""
import re
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Tuple

import torch

_BACKBONE_KEY = re.compile(r'^(conv1|bn1|layer[1-4])\.')
_CLASSIFIER_KEY = re.compile(r'^(layer5|layer6)\.conv2d_list\.(\d+)\.(\w+)$')


def _strip_prefixes(state_dict: Mapping[str, torch.Tensor]
                    ) -> Tuple['OrderedDict[str, torch.Tensor]', bool]:
    """Remove ``module.`` (DataParallel) and ``Scale.`` (init files)."""
    out = OrderedDict()
    is_init_file = False
    for key, value in state_dict.items():
        if key.startswith('module.'):
            key = key[len('module.'):]
        if key.startswith('Scale.'):
            key = key[len('Scale.'):]
            is_init_file = True
        out[key] = value
    return out, is_init_file


def convert_original_deeplabv2(
        state_dict: Mapping[str, torch.Tensor],
        num_rates: Optional[int] = None,
        keep_init_classifier: bool = False
) -> Tuple['OrderedDict[str, torch.Tensor]', Dict[str, object]]:
    """Convert an original DeepLab-v2 state dict to mmseg keys.

    Args:
        state_dict (Mapping[str, Tensor]): The original ``state_dict``.
        num_rates (int, optional): Keep only the first ``num_rates`` convs of
            each classifier. AdaptSegNet's published models build four but
            sum only the first two: convert them with ``num_rates=2`` for a
            head with ``dilations=(6, 12)``. None keeps all.
        keep_init_classifier (bool): Keep the classifier of a ``Scale.``
            init file (it predicts another label set, so it is dropped by
            default and the result holds only ``backbone.*`` keys).

    Returns:
        tuple: The converted ``OrderedDict`` (``backbone.*``,
        ``decode_head.convs.*``, ``auxiliary_head.convs.*``, with
        ``num_batches_tracked`` added where the original lacks it) and a
        dict of plain facts about the file (levels, number of rates, whether
        it was an init file).

    Raises:
        KeyError: A key that is not part of the original layout, naming it.
        ValueError: ``num_rates`` larger than what the file holds.
    """
    weights, is_init_file = _strip_prefixes(state_dict)
    has_layer6 = any(k.startswith('layer6.') for k in weights)
    heads = {'layer5': 'auxiliary_head', 'layer6': 'decode_head'} \
        if has_layer6 else {'layer5': 'decode_head'}
    drop_classifier = is_init_file and not keep_init_classifier

    converted = OrderedDict()
    rates_found = {}
    for key, value in weights.items():
        if _BACKBONE_KEY.match(key):
            converted[f'backbone.{key}'] = value
            continue
        match = _CLASSIFIER_KEY.match(key)
        if match is None or match.group(1) not in heads:
            raise KeyError(f'unexpected key {key!r}: not part of the '
                           'original DeepLab-v2 layout')
        if drop_classifier:
            continue
        layer, index, param = match.groups()
        rates_found[layer] = max(rates_found.get(layer, 0), int(index) + 1)
        if num_rates is not None and int(index) >= num_rates:
            continue
        converted[f'{heads[layer]}.convs.{index}.{param}'] = value

    for layer, found in rates_found.items():
        if num_rates is not None and num_rates > found:
            raise ValueError(f'num_rates={num_rates} but {layer} holds only '
                             f'{found} convs')

    for key in [k for k in converted if k.endswith('.running_mean')]:
        tracked = key[:-len('running_mean')] + 'num_batches_tracked'
        converted.setdefault(tracked, torch.tensor(0, dtype=torch.long))

    info = dict(
        levels='init' if drop_classifier else
        ('multi' if has_layer6 else 'single'),
        num_rates=(num_rates if num_rates is not None else
                   max(rates_found.values(), default=0)),
        init_file=is_init_file)
    return converted, info
