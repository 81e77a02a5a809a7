"""Find the initialisation checkpoints a model config names but lacks.

mmengine loads ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` only
when the runner initialises the weights, after datasets, model and
optimizer are built; a missing local file then fails deep inside mmengine.
:func:`check_init_checkpoints` finds such files in the config first and
names each one, the config key that holds it and, for the files the shipped
configs use, how to make it.
"""
import os.path as osp
from typing import Any, Dict, List, NamedTuple, Optional

#: How to make the local init files the shipped configs name.
KNOWN_INIT_CHECKPOINTS: Dict[str, str] = {
    'checkpoints/mit_b5_mmseg.pth':
    'convert the SegFormer release\'s ImageNet MiT-B5 weights (mit_b5.pth; '
    'the original links died, DAFormer#74, MIC#68) with\n'
    '    python tools/model_converters/mit_b5.py pretrained/mit_b5.pth '
    'checkpoints/mit_b5_mmseg.pth\n'
    "or copy mmseg's mit_b5_20220624-658746d9.pth (the same layout) there",
    'checkpoints/deeplabv2_r101_init.pth':
    "convert the originals' ImageNet/COCO DeepLab-v2 init file with\n"
    '    python tools/model_converters/original_deeplabv2.py '
    'DeepLab_resnet_pretrained_init-f81d91e8.pth '
    'checkpoints/deeplabv2_r101_init.pth',
    'checkpoints/resnet101_v1c.pth':
    "save mmcv's ImageNet ResNetV1c-101 (open-mmlab://resnet101_v1c, "
    'resnet101_v1c-e67eebb6.pth, downloaded on a connected machine) there',
}


class MissingCheckpoint(NamedTuple):
    """A ``Pretrained`` init checkpoint that is not on disk."""
    key: str  #: the config key, e.g. ``model.backbone.init_cfg.checkpoint``
    path: str  #: the file as the config names it


def _is_local(path: str) -> bool:
    # 'https://', 'open-mmlab://', 'torchvision://', 's3://', 'pavi:' ...
    return '://' not in path and not path.startswith(('pavi:', 'mmcls:'))


def _pretrained_paths(init_cfg: Any, key: str) -> List[MissingCheckpoint]:
    found = []
    entries = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or entry.get('type') != 'Pretrained':
            continue
        path = entry.get('checkpoint')
        where = f'{key}[{i}]' if isinstance(init_cfg, (list, tuple)) else key
        if isinstance(path, str):
            found.append(MissingCheckpoint(f'{where}.checkpoint', path))
    return found


def _walk(node: Any, key: str) -> List[MissingCheckpoint]:
    found = []
    if isinstance(node, dict):
        for name, value in node.items():
            child = f'{key}.{name}'
            if name == 'init_cfg':
                found += _pretrained_paths(value, child)
            else:
                found += _walk(value, child)
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            found += _walk(value, f'{key}[{i}]')
    return found


def find_missing_init_checkpoints(
        model_cfg: dict,
        key: str = 'model',
        root: Optional[str] = None) -> List[MissingCheckpoint]:
    """Every local ``Pretrained`` checkpoint of a model config not on disk.

    Args:
        model_cfg (dict): A model config (any nesting: a UDA model's
            ``segmentor``, heads, lists of init configs).
        key (str): The name of ``model_cfg`` in the config, the start of
            every reported key. Defaults to ``'model'``.
        root (str, optional): Directory relative paths are resolved in.
            Defaults to the working directory (where mmengine looks).

    Returns:
        list[MissingCheckpoint]: Key and path of each missing file, in
        config order; URLs and other remote checkpoints are not checked.
    """
    missing = []
    for found in _walk(model_cfg, key):
        path = osp.expanduser(found.path)
        if root is not None and not osp.isabs(path):
            path = osp.join(root, path)
        if _is_local(found.path) and not osp.isfile(path):
            missing.append(found)
    return missing


def _hint(path: str) -> Optional[str]:
    normalised = osp.normpath(path)
    for known, hint in KNOWN_INIT_CHECKPOINTS.items():
        if normalised == known or normalised.endswith(osp.sep + known):
            return hint
    return None


def check_init_checkpoints(model_cfg: dict,
                           key: str = 'model',
                           root: Optional[str] = None) -> None:
    """Raise if a local ``Pretrained`` init checkpoint is missing.

    Args:
        model_cfg (dict): A model config.
        key (str): The name of ``model_cfg`` in the config.
        root (str, optional): Directory relative paths are resolved in.

    Raises:
        FileNotFoundError: Naming every missing file, the config key that
            holds it and, for the files of :data:`KNOWN_INIT_CHECKPOINTS`,
            how to make it.
    """
    missing = find_missing_init_checkpoints(model_cfg, key, root)
    if not missing:
        return
    lines = []
    for found in missing:
        lines.append(f'init checkpoint not found: {found.path} '
                     f'(config key {found.key})')
        hint = _hint(found.path)
        if hint is not None:
            lines.append(f'  to make it, {hint}')
    lines.append(f'or set {missing[0].key.rsplit(".", 1)[0]}=None to '
                 'start from random weights')
    raise FileNotFoundError('\n'.join(lines))
