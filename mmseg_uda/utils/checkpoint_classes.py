"""Refuse a checkpoint whose class count differs from the config's.

mmengine loads weights with ``strict=False``: a classifier of another class
count is skipped with a warning and left at its initialisation, and a resumed
run fails later with an optimizer shape error. The class count is read from
the classifier weights of the segmentor's heads (mmseg's ``conv_seg``, the
DeepLab-v2 head's ``convs.<i>``) and compared with ``num_classes`` of the
config's ``decode_head``/``auxiliary_head`` before any work starts.
"""
import re
from typing import Dict, List, Optional, Set

from mmengine.config import Config, ConfigDict

HEADS = ('decode_head', 'auxiliary_head')
_CLASSIFIER_KEY = re.compile(
    r'^(?:(?P<prefix>.+)\.)?(?P<head>decode_head|auxiliary_head)'
    r'(?:\.(?P<index>\d+))?\.(?:conv_seg|convs\.\d+)\.weight$')


def _head_name(head: str, index: Optional[str]) -> str:
    return head if index is None else f'{head}.{index}'


def checkpoint_num_classes(state_dict: Dict[str, object]) -> Dict[str, int]:
    """Class counts of the heads whose classifiers ``state_dict`` holds.

    Keys may carry a prefix (``segmentor.``, ``teacher.``, ``module.``);
    heads of several prefixes must agree.

    Args:
        state_dict (dict): Parameter name to tensor.

    Returns:
        dict[str, int]: ``decode_head``/``auxiliary_head`` (``.<i>`` for a
        list of auxiliary heads) to the classifier's output channels.

    Raises:
        ValueError: If the classifiers of one head disagree.
    """
    counts: Dict[str, Set[int]] = {}
    for key, value in state_dict.items():
        match = _CLASSIFIER_KEY.match(key)
        shape = getattr(value, 'shape', None)
        if match is None or shape is None or len(shape) < 1:
            continue
        name = _head_name(match.group('head'), match.group('index'))
        counts.setdefault(name, set()).add(int(shape[0]))
    for name, found in counts.items():
        if len(found) > 1:
            raise ValueError(f'the {name} classifiers of the checkpoint '
                             f'disagree on the class count: {sorted(found)}')
    return {name: found.pop() for name, found in counts.items()}


def _segmentor_cfgs(model: ConfigDict) -> List[ConfigDict]:
    """The segmentor configs inside a (UDA, TTA) model config."""
    found = []
    if any(model.get(head) for head in HEADS):
        found.append(model)
    for key in ('segmentor', 'module'):
        inner = model.get(key)
        if isinstance(inner, dict):
            found += _segmentor_cfgs(inner)
    return found


def config_num_classes(cfg: Config) -> Dict[str, int]:
    """``num_classes`` of the heads of the config's segmentor.

    Args:
        cfg (Config): A config with ``model``; a UDA model's ``segmentor``
            and a TTA model's ``module`` are looked into.

    Returns:
        dict[str, int]: Head name (as :func:`checkpoint_num_classes` names
        it) to ``num_classes``; empty for a model without heads (e.g. an
        ensemble or an image translator).
    """
    expected: Dict[str, int] = {}
    for seg in _segmentor_cfgs(cfg.get('model') or ConfigDict()):
        for head in HEADS:
            head_cfg = seg.get(head)
            heads = head_cfg if isinstance(head_cfg, list) else [head_cfg]
            for i, one in enumerate(heads):
                if not isinstance(one, dict) or 'num_classes' not in one:
                    continue
                index = str(i) if isinstance(head_cfg, list) else None
                expected[_head_name(head, index)] = int(one['num_classes'])
    return expected


def check_checkpoint_classes(cfg: Config, checkpoint: dict,
                             path: str) -> None:
    """Refuse ``checkpoint`` if its class count differs from ``cfg``'s.

    Args:
        cfg (Config): The config of the run.
        checkpoint (dict): The loaded checkpoint (mmengine's, with
            ``state_dict``, or a bare state dict).
        path (str): The checkpoint's file, for the message.

    Raises:
        ValueError: Naming ``path``, the head and both class counts.
    """
    state_dict = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state_dict, dict):
        return
    found = checkpoint_num_classes(state_dict)
    for head, num_classes in config_num_classes(cfg).items():
        if head in found and found[head] != num_classes:
            raise ValueError(
                f'checkpoint {path} has {found[head]} classes ({head} '
                f'classifier) but the config has num_classes={num_classes}')
