"""Convert the released MiT ImageNet weights to mmseg 1.x's layout.

    python tools/model_converters/mit_b5.py SRC DST [--num-layers 3 6 40 3]

SRC is the original SegFormer release's ``mit_b5.pth`` (the ImageNet
weights DAFormer, HRDA and MIC start from; their download links died,
DAFormer#74, MIC#68), a state dict of the original ``MixVisionTransformer``
(NVlabs/SegFormer, ``mmseg/models/backbones/mix_transformer.py``, also in
lhoyer/MIC ``seg/``): ``patch_embed{1..4}``, ``block{1..4}.<j>`` with
``attn.q``/``attn.kv``/``attn.sr``/``attn.norm``/``attn.proj`` and
``mlp.fc1``/``mlp.dwconv.dwconv``/``mlp.fc2``, ``norm{1..4}`` and the
ImageNet classifier ``head`` (dropped). DST is a checkpoint that mmseg 1.x's
``MixVisionTransformer`` loads with ``strict=True`` (the layout of mmseg's
``mit_b5_20220624-658746d9.pth``), written atomically.

The layouts differ only in names and shapes, not in values: the query and
key/value projections become one ``in_proj`` of ``nn.MultiheadAttention``
(rows q, k, v), and the MLP's linear layers become 1x1 convolutions.
"""
import argparse
import os.path as osp
import re
from typing import Dict, Sequence

import torch

from mmseg_uda.utils.atomic_io import atomic_write
from mmseg_uda.utils.resume_checkpoint import load_checkpoint_file

MIT_B5_NUM_LAYERS = (3, 6, 40, 3)  # blocks per stage of MiT-B5
_BLOCK = re.compile(r'^block(\d)\.(\d+)\.')
# per-block renames: original suffix -> mmseg suffix (q and kv are merged)
_BLOCK_NAMES = {
    'norm1': 'norm1',
    'attn.proj': 'attn.attn.out_proj',
    'attn.sr': 'attn.sr',
    'attn.norm': 'attn.norm',
    'norm2': 'norm2',
    'mlp.fc1': 'ffn.layers.0',
    'mlp.dwconv.dwconv': 'ffn.layers.1',
    'mlp.fc2': 'ffn.layers.4',
}
_LINEAR_TO_CONV = ('mlp.fc1.weight', 'mlp.fc2.weight')


def _stage_depths(state_dict: Dict[str, torch.Tensor]) -> list:
    """Number of blocks the state dict holds in each of the 4 stages."""
    depths = [0, 0, 0, 0]
    for key in state_dict:
        match = _BLOCK.match(key)
        if match and 1 <= int(match.group(1)) <= 4:
            stage, index = int(match.group(1)), int(match.group(2))
            depths[stage - 1] = max(depths[stage - 1], index + 1)
    return depths


def _take(state_dict: dict, key: str, used: set) -> torch.Tensor:
    if key not in state_dict:
        raise KeyError(f'the original MiT state dict lacks {key!r}')
    used.add(key)
    return state_dict[key]


def convert_mit(state_dict: Dict[str, torch.Tensor],
                num_layers: Sequence[int] = MIT_B5_NUM_LAYERS
                ) -> Dict[str, torch.Tensor]:
    """Rename an original MiT state dict to mmseg 1.x's.

    Args:
        state_dict (dict): The original ``MixVisionTransformer``'s tensors.
        num_layers (Sequence[int]): Blocks per stage the weights must hold
            (MiT-B5: 3, 6, 40, 3).

    Returns:
        dict: The tensors under mmseg's ``MixVisionTransformer`` names
        (``layers.<stage>.{0: patch embedding, 1: blocks, 2: norm}``).

    Raises:
        ValueError: If the dict is not an original MiT state dict, or holds
            another number of blocks than ``num_layers``.
        KeyError: If a tensor of a block is missing.
    """
    if 'patch_embed1.proj.weight' not in state_dict:
        keys = ', '.join(sorted(state_dict)[:5])
        raise ValueError(
            'not an original MiT state dict (no patch_embed1.proj.weight); '
            f'its first keys: {keys}')
    depths = _stage_depths(state_dict)
    if depths != list(num_layers):
        raise ValueError(
            f'the weights hold {depths} blocks per stage, expected '
            f'{list(num_layers)} (MiT-B5: {list(MIT_B5_NUM_LAYERS)}); '
            'another MiT variant needs --num-layers')
    used = {k for k in state_dict if k.startswith('head.')}  # ImageNet fc
    out = {}
    for stage in range(4):
        src, dst = f'patch_embed{stage + 1}', f'layers.{stage}'
        for name in ('weight', 'bias'):
            out[f'{dst}.0.projection.{name}'] = _take(
                state_dict, f'{src}.proj.{name}', used)
            out[f'{dst}.0.norm.{name}'] = _take(
                state_dict, f'{src}.norm.{name}', used)
            out[f'{dst}.2.{name}'] = _take(
                state_dict, f'norm{stage + 1}.{name}', used)
        for j in range(depths[stage]):
            src, dst = f'block{stage + 1}.{j}', f'layers.{stage}.1.{j}'
            for name in ('weight', 'bias'):
                out[f'{dst}.attn.attn.in_proj_{name}'] = torch.cat([
                    _take(state_dict, f'{src}.attn.q.{name}', used),
                    _take(state_dict, f'{src}.attn.kv.{name}', used)
                ])
            has_sr = f'{src}.attn.sr.weight' in state_dict  # sr_ratio > 1
            for old, new in _BLOCK_NAMES.items():
                if old in ('attn.sr', 'attn.norm') and not has_sr:
                    continue
                for name in ('weight', 'bias'):
                    value = _take(state_dict, f'{src}.{old}.{name}', used)
                    if f'{old}.{name}' in _LINEAR_TO_CONV:
                        value = value[:, :, None, None]
                    out[f'{dst}.{new}.{name}'] = value
    left = sorted(set(state_dict) - used)
    if left:
        raise ValueError(f'unexpected tensors in the MiT state dict: '
                         f'{", ".join(left[:5])}')
    return out


def load_original(path: str) -> Dict[str, torch.Tensor]:
    """The state dict of an original MiT file (plain, or under
    ``state_dict``/``model``)."""
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'MiT weights not found: {path}. Put the SegFormer release\'s '
            'ImageNet mit_b5.pth there (or pass its path).')
    checkpoint = load_checkpoint_file(path)
    for wrapper in ('state_dict', 'model'):
        if isinstance(checkpoint.get(wrapper), dict):
            return checkpoint[wrapper]
    return checkpoint


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert the released MiT (mit_b5.pth) to mmseg 1.x')
    parser.add_argument('src', help='original MiT weights, e.g. mit_b5.pth')
    parser.add_argument('dst', help='output, e.g. checkpoints/mit_b5_mmseg.pth')
    parser.add_argument(
        '--num-layers', type=int, nargs=4, default=list(MIT_B5_NUM_LAYERS),
        help='blocks per stage the weights must hold (default: MiT-B5)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    try:
        state_dict = convert_mit(load_original(args.src), args.num_layers)
    except (OSError, ValueError, KeyError) as exc:
        raise SystemExit(f'{args.src}: {exc}') from exc
    meta = dict(converted_from=osp.basename(args.src),
                num_layers=list(args.num_layers))
    # written next to DST and renamed: DST is never half-written
    atomic_write(args.dst, lambda tmp: torch.save(
        dict(state_dict=state_dict, meta=meta), tmp))
    print(f'wrote {args.dst}: {len(state_dict)} tensors')


if __name__ == '__main__':
    main()
