"""An independent re-statement of the original MiT encoder, in plain torch.

Written from reading lhoyer/MIC ``seg/mmseg/models/backbones/
mix_transformer.py`` (NVlabs SegFormer's ``MixVisionTransformer``, the
network of the released ``mit_b5.pth``): per stage an overlapping patch
embedding (conv with padding ``k // 2``, then LayerNorm), blocks of
``x + attn(norm1(x))`` and ``x + mlp(norm2(x))`` and a final LayerNorm. The
attention has separate ``q`` and ``kv`` linears (kv rows: keys, then values),
for ``sr_ratio > 1`` a strided ``sr`` conv plus LayerNorm on the keys and
values, scale ``head_dim ** -0.5`` and an output ``proj``; the MLP is
``fc1``, a 3x3 depthwise ``dwconv``, GELU and ``fc2``. LayerNorm eps: 1e-6 in
the blocks and stage norms (``mit_b*`` pass ``eps=1e-6``), torch's default
1e-5 in the patch embeddings and the attention's ``norm``. It reads the
original state dict directly; no mmseg or mmcv code. Dropout and drop-path
are left out (evaluation mode).
"""
from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F

BLOCK_EPS = 1e-6  # norm_layer=partial(nn.LayerNorm, eps=1e-6)
DEFAULT_EPS = 1e-5  # nn.LayerNorm(dim) in OverlapPatchEmbed and Attention


def _ln(x, sd, key, eps):
    return F.layer_norm(x, x.shape[-1:], sd[f'{key}.weight'],
                        sd[f'{key}.bias'], eps)


def _lin(x, sd, key):
    return F.linear(x, sd[f'{key}.weight'], sd[f'{key}.bias'])


def _attention(x, sd, key, hw, num_heads, sr_ratio, eps):
    b, n, c = x.shape
    q = _lin(x, sd, f'{key}.q').reshape(b, n, num_heads, c // num_heads)
    q = q.permute(0, 2, 1, 3)
    kv_in = x
    if sr_ratio > 1:
        grid = x.permute(0, 2, 1).reshape(b, c, *hw)
        grid = F.conv2d(grid, sd[f'{key}.sr.weight'], sd[f'{key}.sr.bias'],
                        stride=sr_ratio)
        kv_in = _ln(grid.reshape(b, c, -1).permute(0, 2, 1), sd,
                    f'{key}.norm', eps)
    kv = _lin(kv_in, sd, f'{key}.kv').reshape(b, -1, 2, num_heads,
                                              c // num_heads)
    k, v = kv.permute(2, 0, 3, 1, 4)
    attn = (q @ k.transpose(-2, -1)) * (c // num_heads)**-0.5
    out = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, c)
    return _lin(out, sd, f'{key}.proj')


def _mlp(x, sd, key, hw):
    h = _lin(x, sd, f'{key}.fc1')
    b, n, c = h.shape
    grid = h.transpose(1, 2).reshape(b, c, *hw)
    grid = F.conv2d(grid, sd[f'{key}.dwconv.dwconv.weight'],
                    sd[f'{key}.dwconv.dwconv.bias'], padding=1, groups=c)
    h = F.gelu(grid.flatten(2).transpose(1, 2))
    return _lin(h, sd, f'{key}.fc2')


def original_mit_forward(state_dict: Dict[str, torch.Tensor],
                         x: torch.Tensor, num_layers: Sequence[int],
                         num_heads: Sequence[int],
                         sr_ratios: Sequence[int],
                         default_eps: float = DEFAULT_EPS
                         ) -> List[torch.Tensor]:
    """The four NCHW feature maps of the original MiT for images ``x``.

    ``default_eps`` is the eps of the LayerNorms built without one (patch
    embeddings, attention); mmseg 1.x's MiT uses 1e-6 there too, so passing
    1e-6 leaves only the renaming to compare.
    """
    sd = state_dict
    outs = []
    for s in range(4):
        stride = 4 if s == 0 else 2
        w = sd[f'patch_embed{s + 1}.proj.weight']
        x = F.conv2d(x, w, sd[f'patch_embed{s + 1}.proj.bias'],
                     stride=stride, padding=w.shape[-1] // 2)
        b, c, h, wd = x.shape
        x = _ln(x.flatten(2).transpose(1, 2), sd, f'patch_embed{s + 1}.norm',
                default_eps)
        for j in range(num_layers[s]):
            key = f'block{s + 1}.{j}'
            x = x + _attention(_ln(x, sd, f'{key}.norm1', BLOCK_EPS), sd,
                               f'{key}.attn', (h, wd), num_heads[s],
                               sr_ratios[s], default_eps)
            x = x + _mlp(_ln(x, sd, f'{key}.norm2', BLOCK_EPS), sd,
                         f'{key}.mlp', (h, wd))
        x = _ln(x, sd, f'norm{s + 1}', BLOCK_EPS)
        x = x.reshape(b, h, wd, c).permute(0, 3, 1, 2)
        outs.append(x)
    return outs


def random_original_mit(embed_dims: Sequence[int], num_layers: Sequence[int],
                        sr_ratios: Sequence[int], mlp_ratio: int = 4,
                        in_channels: int = 3, num_classes: int = 10,
                        seed: int = 0) -> Dict[str, torch.Tensor]:
    """A state dict with the original MiT's names and shapes, random
    values (norm weights around 1), including the ImageNet ``head``."""
    gen = torch.Generator().manual_seed(seed)
    sd = {}

    def put(key, *shape, center=0.0):
        sd[key] = center + 0.2 * torch.randn(*shape, generator=gen)

    cin = in_channels
    for s, dim in enumerate(embed_dims):
        k = 7 if s == 0 else 3
        put(f'patch_embed{s + 1}.proj.weight', dim, cin, k, k)
        put(f'patch_embed{s + 1}.proj.bias', dim)
        for norm in (f'patch_embed{s + 1}.norm', f'norm{s + 1}'):
            put(f'{norm}.weight', dim, center=1.0)
            put(f'{norm}.bias', dim)
        hidden = mlp_ratio * dim
        for j in range(num_layers[s]):
            key = f'block{s + 1}.{j}'
            shapes = {'attn.q': (dim, dim), 'attn.kv': (2 * dim, dim),
                      'attn.proj': (dim, dim), 'mlp.fc1': (hidden, dim),
                      'mlp.fc2': (dim, hidden),
                      'mlp.dwconv.dwconv': (hidden, 1, 3, 3)}
            if sr_ratios[s] > 1:
                r = sr_ratios[s]
                shapes['attn.sr'] = (dim, dim, r, r)
            for name, shape in shapes.items():
                put(f'{key}.{name}.weight', *shape)
                put(f'{key}.{name}.bias', shape[0])
            norms = ['norm1', 'norm2'] + (['attn.norm']
                                          if sr_ratios[s] > 1 else [])
            for norm in norms:
                put(f'{key}.{norm}.weight', dim, center=1.0)
                put(f'{key}.{norm}.bias', dim)
        cin = dim
    put('head.weight', num_classes, embed_dims[-1])
    put('head.bias', num_classes)
    return sd
