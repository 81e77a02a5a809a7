"""Export the segmentor of a UDA (or any) checkpoint as a plain checkpoint.

    python tools/model_converters/export_segmentor.py CONFIG CHECKPOINT OUT
        [--out-config OUT_CONFIG] [--cfg-options KEY=VALUE ...]

CHECKPOINT is a checkpoint of CONFIG's model: a UDA model (its
``segmentor.*`` weights are taken; discriminators, teacher, optimizer and
training state are left out) or a plain segmentor. OUT holds the weights
(``state_dict``, keys as a plain segmentor names them) and ``meta`` with
plain types only (the dataset's classes and palette, where it came from),
so it loads with torch's default ``weights_only=True`` and mmseg's
``init_model`` without mmseg_uda installed, provided the config's classes
are importable. The weights are checked to load with ``strict=True`` into
the config's segmentor before OUT is written (atomically).

``--out-config`` also writes a plain segmentor config for OUT: the
segmentor's model config, with the UDA data preprocessor's settings, and the
config's test pipeline, dataloader and evaluator.
"""
import argparse
import numbers
import os.path as osp
import re
from typing import Any, Dict, Tuple

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS

from mmseg_uda.utils.atomic_io import atomic_write, atomic_write_text
from mmseg_uda.utils.resume_checkpoint import load_checkpoint_file

#: Top-level keys of a config that a plain segmentor config keeps.
PLAIN_CONFIG_KEYS = ('default_scope', 'custom_imports', 'test_pipeline',
                     'test_dataloader', 'test_evaluator', 'test_cfg',
                     'val_dataloader', 'val_evaluator', 'val_cfg')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export the segmentor of a checkpoint as a plain mmseg '
        'checkpoint')
    parser.add_argument('config', help='config of the checkpoint')
    parser.add_argument('checkpoint', help='UDA or segmentor checkpoint')
    parser.add_argument('out', help='output checkpoint')
    parser.add_argument('--out-config',
                        help='also write a plain segmentor config here')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value')
    return parser.parse_args()


def segmentor_config(cfg: Config) -> dict:
    """The config of the segmentor: ``model.segmentor`` of a UDA model
    (with its data preprocessor), or ``model`` itself."""
    model = cfg.model
    if 'segmentor' not in model:
        return dict(model)
    seg = dict(model.segmentor)
    preprocessor = model.get('data_preprocessor')
    if preprocessor is not None and seg.get('data_preprocessor') is None:
        # the same settings, for unpaired batches
        seg['data_preprocessor'] = dict(preprocessor,
                                        type='SegDataPreProcessor')
    return seg


def segmentor_state(checkpoint: dict) -> Tuple[Dict[str, torch.Tensor], str]:
    """The segmentor's weights of a checkpoint, and where they were.

    Returns:
        tuple: The state dict with plain segmentor keys, and ``'segmentor.'``
        or ``''`` (the prefix they had).
    """
    state = checkpoint.get('state_dict', checkpoint)
    state = {re.sub(r'^module\.', '', k): v for k, v in state.items()}
    prefix = 'segmentor.' if any(
        k.startswith('segmentor.') for k in state) else ''
    return {k[len(prefix):]: v.detach().clone().contiguous()
            for k, v in state.items() if k.startswith(prefix)}, prefix


def plain(value: Any, where: str) -> Any:
    """``value`` with numpy scalars and arrays turned into Python types.

    Raises:
        TypeError: For a type ``weights_only`` loading would refuse.
    """
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, dict):
        return {str(k): plain(v, f'{where}.{k}') for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [plain(v, f'{where}[{i}]') for i, v in enumerate(value)]
        return tuple(items) if isinstance(value, tuple) else items
    if hasattr(value, 'tolist'):  # numpy arrays
        return plain(value.tolist(), where)
    raise TypeError(f'{where} is a {type(value).__name__}, which a plain '
                    'checkpoint cannot hold')


def export_meta(checkpoint: dict, path: str) -> dict:
    """Plain ``meta``: the dataset's meta and where the weights came from.
    """
    meta = checkpoint.get('meta') or {}
    out = dict(exported_from=osp.basename(path))
    for key in ('iter', 'epoch', 'mmseg_version'):
        if key in meta:
            out[key] = plain(meta[key], f'meta.{key}')
    if meta.get('dataset_meta') is not None:
        out['dataset_meta'] = plain(meta['dataset_meta'],
                                    'meta.dataset_meta')
    return out


def check_fits(seg_cfg: dict, state: Dict[str, torch.Tensor], path: str,
               scope: str) -> None:
    """Load ``state`` with ``strict=True`` into the config's segmentor.

    Raises:
        ValueError: Naming ``path`` and torch's message.
    """
    with DefaultScope.overwrite_default_scope(scope):
        segmentor = MODELS.build(seg_cfg)
    try:
        segmentor.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f'the segmentor weights of {path} do not fit the '
                         f"config's segmentor: {exc}") from exc


def write_plain_config(cfg: Config, seg_cfg: dict, path: str) -> None:
    """Write a plain segmentor config for the exported checkpoint."""
    keys = {k: cfg[k] for k in PLAIN_CONFIG_KEYS if cfg.get(k) is not None}
    text = Config(dict(model=seg_cfg, **keys)).pretty_text
    atomic_write_text(path, text)


def main() -> None:
    args = parse_args()
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    checkpoint = load_checkpoint_file(args.checkpoint)
    state, prefix = segmentor_state(checkpoint)
    seg_cfg = segmentor_config(cfg)
    check_fits(seg_cfg, state, args.checkpoint,
               cfg.get('default_scope') or 'mmseg')
    meta = export_meta(checkpoint, args.checkpoint)
    atomic_write(args.out, lambda tmp: torch.save(
        dict(state_dict=state, meta=meta), tmp))
    # what a stock install does: torch's default weights_only=True
    torch.load(args.out, map_location='cpu', weights_only=True)
    if args.out_config:
        write_plain_config(cfg, seg_cfg, args.out_config)
    print(f'wrote {args.out}: {len(state)} tensors of the segmentor '
          f'({prefix or "plain"} keys of {args.checkpoint})' +
          (f' and its config {args.out_config}' if args.out_config else ''))


if __name__ == '__main__':
    main()
