"""Convert a DeepLab-v2 checkpoint of AdaptSegNet/ADVENT/IntraDA/BDL.

    python tools/model_converters/original_deeplabv2.py SRC DST [--num-rates N]

SRC is a ``state_dict`` saved by one of the originals (multi-level
``layer5``/``layer6`` files, single-level files, or the ``Scale.``-prefixed
ImageNet/COCO init files). DST is an mmseg checkpoint (``state_dict`` +
``meta``) that loads with ``strict=True`` into the ``UDAEncoderDecoder`` of
``configs/_base_/models/deeplabv2_r101.py`` (init files: ``backbone.*`` only,
loaded through the backbone's ``init_cfg``). ``meta`` holds only plain types,
so DST loads under torch's default ``weights_only=True``.

SRC may also be a checkpoint of ours (a segmentor, or a UDA model whose
``segmentor.*`` keys are kept): with ``--num-rates N`` its main classifier
keeps its first N convs. BDL's perceptual network (``cyclegan/deeplab.py``)
sums only the first two convs of the segmentor it is given: ``--num-rates 2``
writes its weights, for ``perceptual_segmentor.dilations=(6, 12)``.
"""
import argparse
import os.path as osp
from typing import Optional

import torch

from mmseg_uda.utils import (convert_original_deeplabv2, keep_first_rates,
                             mmengine_checkpoint_globals)
from mmseg_uda.utils.atomic_io import atomic_write

UDA_PREFIX = 'segmentor.'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert an original DeepLab-v2 checkpoint to mmseg')
    parser.add_argument('src', help='original checkpoint (state dict)')
    parser.add_argument('dst', help='output mmseg checkpoint')
    parser.add_argument(
        '--num-rates',
        type=int,
        default=None,
        help='keep only the first N convs of each classifier (of the main '
        'one for a checkpoint of ours); AdaptSegNet published models and '
        "BDL's perceptual network sum only 2 of the 4 they hold: use 2 with "
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
        # checkpoints of ours hold mmengine's runtime types beside tensors
        with mmengine_checkpoint_globals():
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


def is_mmseg_state_dict(state_dict: dict) -> bool:
    """Whether the keys are ours (``backbone.*``, ``segmentor.*``)."""
    return any(k.startswith(('backbone.', UDA_PREFIX)) for k in state_dict)


def convert_mmseg(state_dict: dict, num_rates: Optional[int]) -> tuple:
    """A checkpoint of ours: the segmentor's keys, first convs kept."""
    if any(k.startswith(UDA_PREFIX) for k in state_dict):
        state_dict = {k[len(UDA_PREFIX):]: v for k, v in state_dict.items()
                      if k.startswith(UDA_PREFIX)}
    if num_rates is not None:
        state_dict = keep_first_rates(state_dict, num_rates)
    return state_dict, dict(levels='mmseg', num_rates=num_rates,
                            init_file=False)


def main() -> None:
    args = parse_args()
    source = load_original(args.src)
    if is_mmseg_state_dict(source):
        state_dict, info = convert_mmseg(source, args.num_rates)
    else:
        state_dict, info = convert_original_deeplabv2(
            source,
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
