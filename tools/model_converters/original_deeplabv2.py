"""Convert a DeepLab-v2 checkpoint of AdaptSegNet/ADVENT/IntraDA/BDL.

    python tools/model_converters/original_deeplabv2.py SRC DST [--num-rates N]

SRC is a ``state_dict`` saved by one of the originals (multi-level
``layer5``/``layer6`` files, single-level files, or the ``Scale.``-prefixed
ImageNet/COCO init files). DST is an mmseg checkpoint (``state_dict`` +
``meta``) that loads with ``strict=True`` into the ``UDAEncoderDecoder`` of
``configs/_base_/models/deeplabv2_r101.py`` (init files: ``backbone.*`` only,
loaded through the backbone's ``init_cfg``). ``meta`` holds only plain types,
so DST loads under torch's default ``weights_only=True``.
"""
import argparse
import os.path as osp

import torch

from mmseg_uda.utils import convert_original_deeplabv2
from mmseg_uda.utils.atomic_io import atomic_write


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert an original DeepLab-v2 checkpoint to mmseg')
    parser.add_argument('src', help='original checkpoint (state dict)')
    parser.add_argument('dst', help='output mmseg checkpoint')
    parser.add_argument(
        '--num-rates',
        type=int,
        default=None,
        help='keep only the first N convs of each classifier; AdaptSegNet '
        'published models sum only 2 of the 4 they hold: use 2 with '
        'dilations=(6, 12)')
    parser.add_argument(
        '--keep-init-classifier',
        action='store_true',
        help='keep the classifier of a Scale.-prefixed init file')
    return parser.parse_args()


def load_original(path: str) -> dict:
    """Load an original state dict (tensors only) from ``path``."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    try:
        obj = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:  # noqa: BLE001 - re-raised with the file named
        raise RuntimeError(f'cannot read {path} as a state dict of tensors: '
                           f'{e}') from e
    for wrapper in ('state_dict', 'model'):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict):
        raise TypeError(f'{path} holds a {type(obj).__name__}, not a state '
                        'dict')
    return obj


def main() -> None:
    args = parse_args()
    state_dict, info = convert_original_deeplabv2(
        load_original(args.src),
        num_rates=args.num_rates,
        keep_init_classifier=args.keep_init_classifier)
    meta = dict(converted_from=osp.basename(args.src), **info)
    # Written next to DST and renamed, so DST is never half-written.
    atomic_write(args.dst,
                 lambda tmp: torch.save(dict(state_dict=state_dict, meta=meta),
                                        tmp))
    print(f'wrote {args.dst}: {len(state_dict)} tensors, {meta}')


if __name__ == '__main__':
    main()
