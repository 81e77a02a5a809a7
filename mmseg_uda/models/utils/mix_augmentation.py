"""The strong augmentations DACS/DAFormer apply to the mixed image.

DAFormer (``dacs_transforms.strong_transform``) follows ClassMix with

- colour jitter, applied when ``U(0, 1) > color_jitter_probability`` (0.2,
  so with probability 0.8) with strength ``color_jitter_strength`` = 0.2
  for brightness, contrast, saturation and hue (kornia 0.5's
  ``ColorJitter``), on the image denormalised to [0, 1];
- Gaussian blur, applied when ``U(0, 1) > 0.5``, with
  ``sigma ~ U(0.15, 1.15)`` and an odd kernel of about 10% of the image
  size per dimension.

Both decisions are drawn once per batch, the factors per image. The
colour operations here are plain torch: additive brightness and
multiplicative contrast (as kornia 0.5), saturation as a blend with the
grey image, hue as a rotation of the chroma plane (YIQ); they run in a
random order. Images may be mean-subtracted BGR (the DeepLab-v2
preprocessor) or RGB: they are denormalised with the preprocessor's mean
and std, and converted to RGB for the jitter.
"""
import math
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

_GREY = (0.299, 0.587, 0.114)
_RGB_TO_YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322),
               (0.211, -0.523, 0.312))


def _uniform(num: int, low: float, high: float, like: Tensor,
             generator: Optional[torch.Generator]) -> Tensor:
    """``num`` draws of U(low, high), shaped (num, 1, 1, 1)."""
    draws = torch.rand(num, generator=generator)
    return (low + (high - low) * draws).to(like).view(-1, 1, 1, 1)


def adjust_saturation(rgb: Tensor, factor: Tensor) -> Tensor:
    """Blend RGB images in [0, 1] with their grey image."""
    weights = rgb.new_tensor(_GREY).view(1, 3, 1, 1)
    grey = (rgb * weights).sum(dim=1, keepdim=True)
    return (grey + factor * (rgb - grey)).clamp(0.0, 1.0)


# (dtype, device) -> (RGB->YIQ, its inverse), computed once per dtype and
# device instead of a matrix inverse (and a host sync) on every DACS step
_YIQ_MATRICES: Dict[Tuple[torch.dtype, torch.device], Tuple[Tensor,
                                                            Tensor]] = {}


def yiq_matrices(like: Tensor) -> Tuple[Tensor, Tensor]:
    """The RGB->YIQ matrix and its inverse in ``like``'s dtype and device.

    The inverse is computed on the CPU in that dtype (float32 for lower
    precisions) once, and cached.

    Args:
        like (Tensor): A tensor with the wanted dtype and device.

    Returns:
        tuple[Tensor, Tensor]: ``to_yiq`` and ``to_rgb`` (3, 3).
    """
    key = (like.dtype, like.device)
    if key not in _YIQ_MATRICES:
        dtype = like.dtype if like.dtype in (torch.float32, torch.float64) \
            else torch.float32
        to_yiq = torch.tensor(_RGB_TO_YIQ, dtype=dtype)
        to_rgb = torch.linalg.inv(to_yiq)
        _YIQ_MATRICES[key] = (to_yiq.to(like), to_rgb.to(like))
    return _YIQ_MATRICES[key]


def adjust_hue(rgb: Tensor, shift: Tensor) -> Tensor:
    """Rotate the chroma (I, Q of YIQ) of RGB images by ``shift`` turns."""
    to_yiq, to_rgb = yiq_matrices(rgb)
    yiq = torch.einsum('ij,njhw->nihw', to_yiq, rgb)
    angle = shift.view(-1) * 2 * math.pi
    cos = torch.cos(angle).view(-1, 1, 1)
    sin = torch.sin(angle).view(-1, 1, 1)
    i, q = yiq[:, 1], yiq[:, 2]
    yiq = torch.stack([yiq[:, 0], cos * i - sin * q, sin * i + cos * q], 1)
    return torch.einsum('ij,njhw->nihw', to_rgb, yiq).clamp(0.0, 1.0)


def color_jitter(rgb: Tensor,
                 strength: float,
                 generator: Optional[torch.Generator] = None) -> Tensor:
    """Random brightness, contrast, saturation and hue, in random order.

    Args:
        rgb (Tensor): RGB images in [0, 1], shape (N, 3, H, W).
        strength (float): ``s``: brightness shift in U(-s, s), contrast and
            saturation factors in U(1 - s, 1 + s), hue shift in U(-s, s)
            turns.
        generator (torch.Generator, optional): Source of randomness.

    Returns:
        Tensor: The jittered images in [0, 1].
    """
    num = rgb.shape[0]
    low = max(0.0, 1.0 - strength)
    ops = (
        lambda x, f: (x + f).clamp(0.0, 1.0),
        lambda x, f: (x * f).clamp(0.0, 1.0),
        adjust_saturation,
        adjust_hue,
    )
    ranges = ((-strength, strength), (low, 1.0 + strength),
              (low, 1.0 + strength), (-strength, strength))
    factors = [_uniform(num, lo, hi, rgb, generator) for lo, hi in ranges]
    for index in torch.randperm(len(ops), generator=generator).tolist():
        rgb = ops[index](rgb, factors[index])
    return rgb


def blur_kernel_size(size: int, ratio: float = 0.1) -> int:
    """DAFormer's odd kernel size: ``ceil(ratio * size)``, minus one when
    even."""
    kernel = math.ceil(ratio * size)
    return kernel - 1 if kernel % 2 == 0 else kernel


def gaussian_blur(img: Tensor, sigma: Tensor,
                  kernel_ratio: float = 0.1) -> Tensor:
    """Separable Gaussian blur with reflected borders.

    Args:
        img (Tensor): Images of shape (N, C, H, W) (any normalisation: the
            blur is linear).
        sigma (Tensor): One standard deviation per image, shape (N,).
        kernel_ratio (float): Kernel size relative to each image side.

    Returns:
        Tensor: The blurred images.
    """
    num, channels = img.shape[:2]
    out = img
    for dim, size in ((2, img.shape[2]), (3, img.shape[3])):
        kernel = blur_kernel_size(size, kernel_ratio)
        if kernel < 3:
            continue
        offsets = torch.arange(kernel, dtype=img.dtype, device=img.device)
        offsets = offsets - (kernel - 1) / 2
        weights = torch.exp(-offsets[None] ** 2 /
                            (2 * sigma.to(img).view(-1, 1) ** 2))
        weights = weights / weights.sum(dim=1, keepdim=True)
        shape = (kernel, 1) if dim == 2 else (1, kernel)
        weights = weights.repeat_interleave(channels, 0).view(
            num * channels, 1, *shape)
        pad = kernel // 2
        padding = (0, 0, pad, pad) if dim == 2 else (pad, pad, 0, 0)
        flat = F.pad(out.reshape(1, num * channels, *out.shape[2:]),
                     padding, mode='reflect')
        out = F.conv2d(flat, weights, groups=num * channels).view_as(img)
    return out


def mix_augment(img: Tensor,
                mean: Tensor,
                std: Tensor,
                rgb: bool,
                color_jitter_strength: float = 0.2,
                color_jitter_prob: float = 0.8,
                blur_prob: float = 0.5,
                blur_sigma: Sequence[float] = (0.15, 1.15),
                blur_kernel_ratio: float = 0.1,
                generator: Optional[torch.Generator] = None) -> Tensor:
    """DACS's colour jitter and blur of normalised (mixed) images.

    Args:
        img (Tensor): Normalised images ``(x - mean) / std`` of shape
            (N, 3, H, W), ``x`` in [0, 255].
        mean (Tensor): Per-channel mean of the normalisation (3 values).
        std (Tensor): Per-channel std of the normalisation (3 values).
        rgb (bool): Whether the channels are in RGB order (else BGR).
        color_jitter_strength (float): Strength of :func:`color_jitter`.
        color_jitter_prob (float): Probability of the jitter (per batch).
        blur_prob (float): Probability of the blur (per batch).
        blur_sigma (Sequence[float]): Range of the blur's sigma (per image).
        blur_kernel_ratio (float): Blur kernel size relative to the image.
        generator (torch.Generator, optional): Source of randomness.

    Returns:
        Tensor: The augmented images, normalised as the input.
    """
    if img.dim() != 4 or img.shape[1] != 3:
        raise ValueError('mix_augment expects images of shape (N, 3, H, W), '
                         f'got {tuple(img.shape)}')
    num = img.shape[0]
    jitter, blur = torch.rand(2, generator=generator).tolist()
    if jitter < color_jitter_prob and color_jitter_strength > 0:
        mean = mean.to(img).view(1, 3, 1, 1)
        std = std.to(img).view(1, 3, 1, 1)
        pixels = (img * std + mean) / 255.0
        if not rgb:
            pixels = pixels.flip(1)
        pixels = color_jitter(pixels, color_jitter_strength, generator)
        if not rgb:
            pixels = pixels.flip(1)
        img = (pixels * 255.0 - mean) / std
    if blur < blur_prob:
        sigma = _uniform(num, blur_sigma[0], blur_sigma[1], img,
                         generator).view(-1)
        img = gaussian_blur(img, sigma, blur_kernel_ratio)
    return img
