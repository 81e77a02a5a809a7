"""DACS's hue rotation: the YIQ inverse is computed once, not per step."""
import math

import pytest
import torch

from mmseg_uda.models.utils import mix_augmentation
from mmseg_uda.models.utils.mix_augmentation import adjust_hue

RGB_TO_YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322),
              (0.211, -0.523, 0.312))


def hue_per_call_inverse(rgb, shift):
    """adjust_hue as it was: the matrix inverse on every call."""
    to_yiq = rgb.new_tensor(RGB_TO_YIQ)
    to_rgb = torch.linalg.inv(to_yiq)
    yiq = torch.einsum('ij,njhw->nihw', to_yiq, rgb)
    angle = shift.view(-1) * 2 * math.pi
    cos = torch.cos(angle).view(-1, 1, 1)
    sin = torch.sin(angle).view(-1, 1, 1)
    i, q = yiq[:, 1], yiq[:, 2]
    yiq = torch.stack([yiq[:, 0], cos * i - sin * q, sin * i + cos * q], 1)
    return torch.einsum('ij,njhw->nihw', to_rgb, yiq).clamp(0.0, 1.0)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_hue_is_bit_identical_to_the_per_call_inverse(dtype):
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        rgb = torch.rand(2, 3, 5, 7, generator=gen, dtype=dtype)
        shift = (torch.rand(2, generator=gen, dtype=dtype) - 0.5) * 0.4
        assert torch.equal(adjust_hue(rgb, shift),
                           hue_per_call_inverse(rgb, shift))


def test_hue_inverts_the_matrix_at_most_once(monkeypatch):
    calls = []
    inverse = torch.linalg.inv

    def counting_inv(matrix, *args, **kwargs):
        calls.append(matrix.shape)
        return inverse(matrix, *args, **kwargs)

    monkeypatch.setattr(torch.linalg, 'inv', counting_inv)
    monkeypatch.setattr(mix_augmentation, '_YIQ_MATRICES', {})
    rgb = torch.rand(1, 3, 4, 4)
    for _ in range(3):
        adjust_hue(rgb, torch.tensor([0.1]))
    assert len(calls) == 1
