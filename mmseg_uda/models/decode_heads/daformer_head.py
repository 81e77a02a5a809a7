"""DAFormer's decode head: per-level linear embeddings fused by a context
module (separable ASPP in DAFormer's shipped setting)."""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmseg.models.decode_heads.aspp_head import ASPPModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.decode_heads.sep_aspp_head import \
    DepthwiseSeparableASPPModule
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor

#: Layer types a ``decoder_params`` entry may name.
LAYER_TYPES = ('mlp', 'conv', 'sep_conv', 'aspp')


class LinearEmbedding(nn.Module):
    """A linear map of the channels of every pixel (SegFormer's ``MLP``).

    The parameter is named ``proj`` as in SegFormer and DAFormer, so their
    checkpoints load unchanged.

    Args:
        in_channels (int): Channels of the input map.
        embed_dims (int): Channels of the output map.
    """

    def __init__(self, in_channels: int, embed_dims: int) -> None:
        super().__init__()
        self.proj = nn.Linear(in_channels, embed_dims)

    def forward(self, x: Tensor) -> Tensor:
        """Embed ``x`` of shape (N, C, H, W) to (N, embed_dims, H, W)."""
        n, _, h, w = x.shape
        out = self.proj(x.flatten(2).transpose(1, 2))
        return out.transpose(1, 2).reshape(n, -1, h, w)


class ASPPFusion(nn.Module):
    """ASPP as a fusion layer: parallel (separable) dilated branches, an
    optional image-pooling branch, concatenated and fused by a 3x3 conv.

    The branches are mmseg's :class:`ASPPModule` (``sep=False``) or
    :class:`DepthwiseSeparableASPPModule` (``sep=True``): a 1x1 conv for
    dilation 1 and a (depthwise-separable) 3x3 conv with padding = dilation
    otherwise, each with norm and activation.

    Args:
        in_channels (int): Channels of the input map.
        channels (int): Channels of every branch and of the output.
        dilations (Sequence[int]): One branch per dilation.
        sep (bool): Depthwise-separable 3x3 branches. Defaults to True.
        pool (bool): Add a global-average-pooling branch (1x1 conv, then
            bilinear upsampling to the input size). Defaults to False.
        norm_cfg (dict, optional): Norm layer of every conv.
        act_cfg (dict, optional): Activation of every conv.
            Defaults to ``dict(type='ReLU')``.
        align_corners (bool): ``align_corners`` of the pooling branch's
            upsampling. Defaults to False.
    """

    def __init__(self,
                 in_channels: int,
                 channels: int,
                 dilations: Sequence[int],
                 sep: bool = True,
                 pool: bool = False,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 align_corners: bool = False) -> None:
        super().__init__()
        if not isinstance(dilations, (list, tuple)) or not dilations:
            raise ValueError(
                f'ASPP fusion: dilations must be a non-empty list or tuple, '
                f'got {dilations!r}')
        self.align_corners = align_corners
        self.image_pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            ConvModule(in_channels, channels, 1, norm_cfg=norm_cfg,
                       act_cfg=act_cfg)) if pool else None
        branches = DepthwiseSeparableASPPModule if sep else ASPPModule
        self.aspp_modules = branches(
            dilations=dilations,
            in_channels=in_channels,
            channels=channels,
            conv_cfg=None,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)
        self.bottleneck = ConvModule(
            (len(dilations) + int(pool)) * channels,
            channels,
            kernel_size=3,
            padding=1,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        """Fuse ``x`` (N, in_channels, H, W) to (N, channels, H, W)."""
        outs = []
        if self.image_pool is not None:
            outs.append(
                resize(self.image_pool(x), size=x.shape[2:],
                       mode='bilinear', align_corners=self.align_corners))
        outs.extend(self.aspp_modules(x))
        return self.bottleneck(torch.cat(outs, dim=1))


def build_fusion_layer(in_channels: int, out_channels: int,
                       cfg: dict) -> nn.Module:
    """Build one embedding or fusion layer of :class:`DAFormerHead`.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        cfg (dict): ``type`` is one of :data:`LAYER_TYPES`; ``'mlp'``
            takes no other key (``norm_cfg``/``act_cfg`` of None are
            accepted, as DAFormer's configs pass them); ``'conv'`` and
            ``'sep_conv'`` take ``kernel_size`` (padding ``kernel_size // 2``)
            and the arguments of mmcv's :class:`ConvModule` /
            :class:`DepthwiseSeparableConvModule`; ``'aspp'`` takes the
            arguments of :class:`ASPPFusion`.

    Returns:
        nn.Module: The layer.
    """
    cfg = copy.deepcopy(cfg)
    layer_type = cfg.pop('type', None)
    if layer_type == 'mlp':
        extra = {k: v for k, v in cfg.items() if v is not None}
        if extra:
            raise ValueError(
                f"decoder_params: an 'mlp' layer is one linear map; it takes "
                f'no {sorted(extra)}')
        return LinearEmbedding(in_channels, out_channels)
    if layer_type in ('conv', 'sep_conv'):
        if 'kernel_size' not in cfg:
            raise ValueError(
                f"decoder_params: a '{layer_type}' layer needs kernel_size")
        module = ConvModule if layer_type == 'conv' else \
            DepthwiseSeparableConvModule
        return module(in_channels, out_channels,
                      padding=cfg['kernel_size'] // 2, **cfg)
    if layer_type == 'aspp':
        return ASPPFusion(in_channels, out_channels, **cfg)
    raise ValueError(
        f'decoder_params: unknown layer type {layer_type!r}; expected one '
        f'of {LAYER_TYPES}')


@MODELS.register_module()
class DAFormerHead(BaseDecodeHead):
    """The decode head of `DAFormer <https://arxiv.org/abs/2111.14887>`_.

    Every selected level is embedded to ``embed_dims`` channels (a linear
    map per pixel in DAFormer), bilinearly resized (``align_corners``
    False) to the size of ``inputs[0]`` (the finest level, as in the
    original), concatenated in
    ``in_index`` order and fused by ``fusion_cfg`` to ``channels``
    channels; ``cls_seg`` (dropout, 1x1 conv) gives the logits.

    DAFormer's setting (``daformer_sepaspp_mitb5.py``) fuses with a
    separable ASPP: dilations (1, 6, 12, 18), no pooling branch, BN and
    ReLU after every conv, then a 3x3 conv+BN+ReLU bottleneck. Module names
    follow the original (``embed_layers.<i>.proj``, ``fuse_layer.
    aspp_modules``, ``fuse_layer.bottleneck``, ``conv_seg``), so DAFormer's
    released head weights load unchanged.

    Args:
        decoder_params (dict): ``embed_dims`` (int, or one per level),
            ``embed_cfg`` (layer of every level but the last),
            ``embed_neck_cfg`` (layer of the last level, or the string
            ``'same_as_embed_cfg'``) and ``fusion_cfg``; the layers are
            described in :func:`build_fusion_layer`.
        **kwargs: Arguments of :class:`BaseDecodeHead` (``in_channels``,
            ``in_index``, ``channels``, ``num_classes``, ...). The input
            transform is always ``'multiple_select'``.
    """

    def __init__(self, decoder_params: dict, **kwargs) -> None:
        if kwargs.get('input_transform', 'multiple_select') != \
                'multiple_select':
            raise ValueError(
                "DAFormerHead: input_transform is always 'multiple_select'")
        kwargs['input_transform'] = 'multiple_select'
        super().__init__(**kwargs)
        if self.align_corners:
            raise ValueError(
                'DAFormerHead: align_corners must be False, as in DAFormer')
        missing = {'embed_dims', 'embed_cfg', 'embed_neck_cfg',
                   'fusion_cfg'} - set(decoder_params)
        if missing:
            raise KeyError(
                f'DAFormerHead: decoder_params lacks {sorted(missing)}')
        embed_dims = decoder_params['embed_dims']
        if isinstance(embed_dims, int):
            embed_dims = [embed_dims] * len(self.in_index)
        if len(embed_dims) != len(self.in_index):
            raise ValueError(
                f'DAFormerHead: {len(embed_dims)} embed_dims for '
                f'{len(self.in_index)} levels (in_index {self.in_index})')
        embed_cfg = decoder_params['embed_cfg']
        neck_cfg = decoder_params['embed_neck_cfg']
        if neck_cfg == 'same_as_embed_cfg':
            neck_cfg = embed_cfg
        fusion_cfg = self._with_align_corners(decoder_params['fusion_cfg'])

        layers: Dict[str, nn.Module] = {}
        for i, in_channels, dims in zip(self.in_index, self.in_channels,
                                        embed_dims):
            cfg = neck_cfg if i == self.in_index[-1] else embed_cfg
            layers[str(i)] = build_fusion_layer(
                in_channels, dims, self._with_align_corners(cfg))
        self.embed_layers = nn.ModuleDict(layers)
        self.fuse_layer = build_fusion_layer(
            sum(embed_dims), self.channels, fusion_cfg)

    def _with_align_corners(self, cfg: dict) -> dict:
        """Give an ASPP layer the head's ``align_corners``."""
        if cfg.get('type') == 'aspp':
            cfg = dict(cfg, align_corners=self.align_corners)
        return cfg

    def _fuse(self, inputs: Union[List[Tensor], Tuple[Tensor]]) -> Tensor:
        """Embed, resize and fuse the selected levels."""
        x = self._transform_inputs(inputs)
        size = inputs[0].shape[2:]
        embedded = []
        for i, feat in zip(self.in_index, x):
            out = self.embed_layers[str(i)](feat)
            if out.shape[2:] != size:
                out = resize(out, size=size, mode='bilinear',
                             align_corners=self.align_corners)
            embedded.append(out)
        return self.fuse_layer(torch.cat(embedded, dim=1))

    def forward(self, inputs: Union[List[Tensor], Tuple[Tensor]]) -> Tensor:
        """Logits at the size of ``inputs[0]``.

        Args:
            inputs (list[Tensor] | tuple[Tensor]): Multi-level features.

        Returns:
            Tensor: Logits of shape (N, num_classes, H0, W0).
        """
        return self.cls_seg(self._fuse(inputs))
