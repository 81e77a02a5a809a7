"""BDL's segmentation perceptual loss: a frozen segmentor compares images.

BDL adds to CycleGAN's generator loss the distance between the frozen
segmentation network's outputs (main classifier logits at feature
resolution) for an image and for its translation or reconstruction. Each
logit map is instance-normalised (``InstanceNorm2d(num_classes,
affine=False)``) before the mean squared difference.
"""
import os.path as osp
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner.checkpoint import _load_checkpoint
from mmseg.registry import MODELS
from torch import Tensor

from mmseg_uda.utils.checkpoint_globals import mmengine_checkpoint_globals
from ..data_preprocessors.normalization import preprocessor_normalization

# BDL's (and the DeepLab-v2 originals') BGR mean; no std division.
CAFFE_BGR_MEAN = (104.00698793, 116.66876762, 122.67891434)


def unit_rgb_to_segmentor_input(
        images: Tensor,
        mean: Union[Sequence[float], Tensor] = CAFFE_BGR_MEAN,
        std: Union[Sequence[float], Tensor] = (1.0, 1.0, 1.0),
        bgr: bool = True) -> Tensor:
    """Turn translator images into what the segmentor was trained on.

    Translator images are RGB in [-1, 1]. They are mapped to [0, 255]
    (``x * 127.5 + 127.5``), put in BGR channel order when ``bgr`` (the
    originals' caffe-style input), and normalised with the segmentor's
    ``mean`` and ``std`` (given in that channel order). With the defaults
    this is BDL's ``img_preprocess``.

    Args:
        images (Tensor): RGB images in [-1, 1], shape (N, 3, H, W).
        mean (Sequence[float] | Tensor): Per-channel mean of the segmentor
            input. A tensor on the images' device is used without a copy
            (no host round trip per call).
        std (Sequence[float] | Tensor): Per-channel std, likewise.
        bgr (bool): Whether the segmentor takes BGR images.

    Returns:
        Tensor: Normalised segmentor inputs, differentiable in ``images``.
    """
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError('expected images of shape (N, 3, H, W), got '
                         f'{tuple(images.shape)}')
    x = images.flip(1) if bgr else images
    x = (x + 1.0) * 127.5
    mean_t = torch.as_tensor(mean, dtype=x.dtype,
                             device=x.device).view(1, -1, 1, 1)
    std_t = torch.as_tensor(std, dtype=x.dtype,
                            device=x.device).view(1, -1, 1, 1)
    return (x - mean_t) / std_t


def perceptual_distance(logits: Tensor, reference: Tensor,
                        eps: float = 1e-5) -> Tensor:
    """``mean((IN(logits) - IN(reference)) ** 2)`` with affine-free IN.

    Args:
        logits (Tensor): Segmentor outputs of the generated images, shape
            (N, C, h, w).
        reference (Tensor): Segmentor outputs of the reference images.
        eps (float): Instance norm epsilon (``nn.InstanceNorm2d``'s 1e-5).

    Returns:
        Tensor: The scalar distance.
    """
    if logits.shape != reference.shape:
        raise ValueError(f'shapes differ: {tuple(logits.shape)} vs '
                         f'{tuple(reference.shape)}')
    return torch.mean((F.instance_norm(logits, eps=eps) -
                       F.instance_norm(reference, eps=eps))**2)


def segmentor_input_format(segmentor: nn.Module) -> dict:
    """``mean``, ``std`` and ``bgr`` of a segmentor's data preprocessor.

    A ``SegDataPreProcessor`` normalises images loaded as BGR, converted to
    RGB first when ``bgr_to_rgb``. Without normalisation settings the
    originals' caffe-style format is assumed.

    Returns:
        dict: ``mean`` and ``std`` as float32 tensors of shape (C,) (copies
        of the preprocessor's, on its device; read without a host round
        trip) and ``bgr`` (bool).
    """
    pre = getattr(segmentor, 'data_preprocessor', None)
    norm = preprocessor_normalization(pre)
    if norm is None:
        return dict(mean=torch.tensor(CAFFE_BGR_MEAN),
                    std=torch.ones(len(CAFFE_BGR_MEAN)), bgr=True)
    return dict(mean=norm[0].detach().clone(), std=norm[1].detach().clone(),
                bgr=not pre.channel_conversion)


def segmentor_state_dict(checkpoint: str) -> dict:
    """The segmentor's weights from a segmentor or UDA checkpoint.

    UDA checkpoints hold the segmentor under ``segmentor.*`` (beside
    discriminators): those keys are kept, without the prefix. A plain
    segmentor checkpoint is returned as is.

    Raises:
        FileNotFoundError: If ``checkpoint`` is not a file.
    """
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'perceptual_segmentor checkpoint not found: {checkpoint}')
    with mmengine_checkpoint_globals():
        ckpt = _load_checkpoint(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    prefix = 'segmentor.'
    if any(k.startswith(prefix) for k in state):
        state = {k[len(prefix):]: v for k, v in state.items()
                 if k.startswith(prefix)}
    return state


def build_frozen_segmentor(
        config: str,
        checkpoint: Optional[str] = None,
        dilations: Optional[Sequence[int]] = None) -> nn.Module:
    """Build the segmentor of an mmseg_uda config, load it and freeze it.

    Args:
        config (str): A config file; its ``model.segmentor`` when the model
            is a UDA model, else its ``model``.
        checkpoint (str, optional): Segmentor or UDA checkpoint (weights
            loaded strictly). None keeps the initial weights (tests only).
        dilations (Sequence[int], optional): Replace the main classifier's
            ``decode_head.dilations``. BDL's perceptual network
            (``cyclegan/deeplab.py``) sums only the convs of rates 6 and 12:
            ``(6, 12)``, with a checkpoint that holds only those two convs
            (see :func:`mmseg_uda.utils.keep_first_rates`).

    Returns:
        nn.Module: The segmentor in eval mode with ``requires_grad=False``.

    Raises:
        FileNotFoundError: If the config or the checkpoint is missing.
        KeyError: If the config has no ``model``, or ``dilations`` is
            given for a model whose ``decode_head`` has none.
    """
    if not osp.isfile(config):
        raise FileNotFoundError(
            f'perceptual_segmentor config not found: {config}')
    cfg = Config.fromfile(config)
    if 'model' not in cfg:
        raise KeyError(f'perceptual_segmentor config {config} has no model')
    model_cfg = cfg.model.get('segmentor', cfg.model)
    if dilations is not None:
        head = model_cfg.get('decode_head') or {}
        if 'dilations' not in head:
            raise KeyError(f'perceptual_segmentor config {config}: '
                           'dilations given, but its decode_head has none')
        head['dilations'] = tuple(int(d) for d in dilations)
    segmentor = MODELS.build(model_cfg)
    if checkpoint is not None:
        segmentor.load_state_dict(segmentor_state_dict(checkpoint),
                                  strict=True)
    segmentor.eval()
    for param in segmentor.parameters():
        param.requires_grad_(False)
    return segmentor
