"""tools/model_converters/mit_b5.py: the original MiT's weights, renamed,
make mmseg 1.x's ``MixVisionTransformer`` compute what the original
computes (tests/reference/original_mit.py re-states lhoyer/MIC
seg/mmseg/models/backbones/mix_transformer.py)."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmseg.models.backbones import MixVisionTransformer

from tests.reference.original_mit import (original_mit_forward,
                                          random_original_mit)
from tools.model_converters.mit_b5 import MIT_B5_NUM_LAYERS, convert_mit

# a tiny MiT: mmseg's embed_dims is the per-head width (dims 8, 16, 40, 64)
HEADS = (1, 2, 5, 8)
LAYERS = (1, 2, 1, 1)
SR = (8, 4, 2, 1)
DIMS = tuple(8 * h for h in HEADS)
CONVERTER = 'tools/model_converters/mit_b5.py'


def _mmseg_mit() -> MixVisionTransformer:
    return MixVisionTransformer(
        embed_dims=8, num_layers=list(LAYERS), num_heads=list(HEADS),
        sr_ratios=list(SR), qkv_bias=True, drop_path_rate=0.0).eval()


def _run(repo_root, *args):
    env = dict(os.environ, PYTHONPATH=repo_root)
    return subprocess.run([sys.executable, CONVERTER, *args], cwd=repo_root,
                          env=env, capture_output=True, text=True,
                          timeout=300)


def _outputs(default_eps):
    original = random_original_mit(DIMS, LAYERS, SR)
    model = _mmseg_mit()
    model.load_state_dict(convert_mit(original, LAYERS), strict=True)
    x = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        got = model(x)
        want = original_mit_forward(original, x, LAYERS, HEADS, SR,
                                    default_eps)
    assert len(got) == len(want) == 4
    for g, w, dim in zip(got, want, DIMS):
        assert g.shape == w.shape and g.shape[1] == dim
    return got, want


def test_converted_weights_reproduce_the_original_forward():
    # mmseg's MiT builds every LayerNorm with eps 1e-6; the original's patch
    # embeddings and attention norms use torch's 1e-5. With the same eps
    # the outputs match to float precision: only names and shapes changed.
    got, want = _outputs(default_eps=1e-6)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-5)


def test_the_eps_difference_of_mmseg_mit_stays_small():
    # with the original's eps the difference stays at the 1e-5 level
    got, want = _outputs(default_eps=1e-5)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, atol=5e-5, rtol=1e-5)


@pytest.mark.slow
def test_converter_writes_a_strictly_loading_checkpoint(repo_root,
                                                        tmp_path):
    src, dst = tmp_path / 'mit.pth', tmp_path / 'out' / 'mit_mmseg.pth'
    original = random_original_mit(DIMS, LAYERS, SR)
    torch.save(original, src)
    proc = _run(repo_root, str(src), str(dst), '--num-layers',
                *map(str, LAYERS))
    assert proc.returncode == 0, proc.stderr[-2000:]
    checkpoint = torch.load(dst, map_location='cpu', weights_only=True)
    model = _mmseg_mit()
    model.load_state_dict(checkpoint['state_dict'], strict=True)
    # only the converted file is left in DST's folder (atomic write)
    assert os.listdir(dst.parent) == ['mit_mmseg.pth']
    assert not any(k.startswith('head.') for k in checkpoint['state_dict'])


def test_mit_b5_depths_are_the_default():
    # MiT-B5: depths=[3, 6, 40, 3] (lhoyer/MIC seg/mmseg/models/backbones/
    # mix_transformer.py, class mit_b5)
    assert MIT_B5_NUM_LAYERS == (3, 6, 40, 3)


@pytest.mark.parametrize('change, message', [
    (lambda sd: {'conv1.weight': torch.zeros(1)},
     'not an original MiT state dict'),
    (lambda sd: {k: v for k, v in sd.items()
                 if not k.startswith('block2.1.')},
     r'\[1, 1, 1, 1\] blocks per stage, expected \[1, 2, 1, 1\]'),
    (lambda sd: {k: v for k, v in sd.items() if k != 'block3.0.attn.kv.bias'},
     'lacks .block3.0.attn.kv.bias'),
    (lambda sd: dict(sd, extra=torch.zeros(1)), 'unexpected tensors.*extra'),
])
def test_bad_state_dicts_are_refused(change, message):
    original = random_original_mit(DIMS, LAYERS, SR)
    with pytest.raises((ValueError, KeyError), match=message):
        convert_mit(change(original), LAYERS)


@pytest.mark.slow
def test_cli_names_the_missing_or_wrong_file(repo_root, tmp_path):
    dst = tmp_path / 'mit_mmseg.pth'
    dst.write_bytes(b'kept')
    missing = tmp_path / 'mit_b5.pth'
    proc = _run(repo_root, str(missing), str(dst))
    assert proc.returncode != 0
    assert f'MiT weights not found: {missing}' in proc.stderr
    # MiT-B5 depths expected by default: a tiny MiT is refused, DST kept
    torch.save(random_original_mit(DIMS, LAYERS, SR), missing)
    proc = _run(repo_root, str(missing), str(dst))
    assert proc.returncode != 0
    assert 'expected [3, 6, 40, 3]' in proc.stderr
    assert str(missing) in proc.stderr
    assert dst.read_bytes() == b'kept'
    assert osp.exists(missing)
