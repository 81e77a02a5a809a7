"""An independent re-statement of DAFormer's decode head, in plain torch.

Written from reading lhoyer/MIC ``seg/mmseg/models/decode_heads/
daformer_head.py`` (``DAFormerHead``, ``ASPPWrapper``, ``build_layer``),
``segformer_head.py`` (``MLP``: flatten, transpose, ``nn.Linear``) and the
mmseg 0.x ``ASPPModule`` / ``DepthwiseSeparableASPPModule`` it uses, in the
setting of ``seg/configs/_base_/models/daformer_sepaspp_mitb5.py``: an MLP
per level, bilinear resize (align_corners False) to level 0, concatenation,
separable ASPP (1x1 conv for dilation 1; depthwise 3x3 conv + BN + ReLU then
pointwise 1x1 conv + BN + ReLU for the others; convs without bias because
they are followed by BN), no pooling branch, 3x3 conv + BN + ReLU
bottleneck, ``Dropout2d`` and a 1x1 classifier. No mmseg or mmcv classes.
"""
from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


def _conv_bn_relu(cin, cout, k, dilation=1, groups=1):
    pad = 0 if k == 1 else dilation
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=pad, dilation=dilation,
                  groups=groups, bias=False),
        nn.BatchNorm2d(cout), nn.ReLU())


class OriginalDAFormerHead(nn.Module):
    """DAFormer's head with MLP embeddings and the separable ASPP fusion."""

    def __init__(self, in_channels: Sequence[int], embed_dims: int,
                 channels: int, num_classes: int,
                 dilations: Sequence[int] = (1, 6, 12, 18),
                 dropout_ratio: float = 0.1):
        super().__init__()
        self.linears = nn.ModuleList(
            nn.Linear(c, embed_dims) for c in in_channels)
        fused = embed_dims * len(in_channels)
        self.dilations = tuple(dilations)
        self.branches = nn.ModuleList()
        for d in dilations:
            if d == 1:
                self.branches.append(_conv_bn_relu(fused, channels, 1))
            else:
                self.branches.append(nn.Sequential(
                    _conv_bn_relu(fused, fused, 3, d, groups=fused),
                    _conv_bn_relu(fused, channels, 1)))
        self.bottleneck = _conv_bn_relu(channels * len(dilations), channels, 3)
        self.dropout_ratio = dropout_ratio
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, feats: List[torch.Tensor]) -> torch.Tensor:
        n = feats[-1].shape[0]
        size = feats[0].shape[2:]
        outs = []
        for x, linear in zip(feats, self.linears):
            c = linear(x.flatten(2).transpose(1, 2))
            c = c.permute(0, 2, 1).reshape(n, -1, x.shape[2], x.shape[3])
            if c.shape[2:] != size:
                c = F.interpolate(c, size=size, mode='bilinear',
                                  align_corners=False)
            outs.append(c)
        x = torch.cat(outs, dim=1)
        x = torch.cat([b(x) for b in self.branches], dim=1)
        x = self.bottleneck(x)
        x = F.dropout2d(x, self.dropout_ratio, self.training)
        return self.classifier(x)


def _copy_cbr(dst: nn.Sequential, conv: nn.Conv2d, bn: nn.BatchNorm2d):
    assert conv.bias is None
    dst[0].weight.data.copy_(conv.weight)
    for name in ('weight', 'bias', 'running_mean', 'running_var',
                 'num_batches_tracked'):
        getattr(dst[1], name).data.copy_(getattr(bn, name))


@torch.no_grad()
def copy_from_head(ref: OriginalDAFormerHead, head: nn.Module) -> None:
    """Copy the weights and BN buffers of our ``DAFormerHead`` into ``ref``.

    Reads our head's modules by their documented names (``embed_layers``,
    ``fuse_layer.aspp_modules``, ``fuse_layer.bottleneck``, ``conv_seg``).
    """
    for i, linear in enumerate(ref.linears):
        src = head.embed_layers[str(i)].proj
        linear.weight.copy_(src.weight)
        linear.bias.copy_(src.bias)
    for d, dst, src in zip(ref.dilations, ref.branches,
                           head.fuse_layer.aspp_modules):
        if d == 1:
            _copy_cbr(dst, src.conv, src.bn)
        else:
            _copy_cbr(dst[0], src.depthwise_conv.conv, src.depthwise_conv.bn)
            _copy_cbr(dst[1], src.pointwise_conv.conv, src.pointwise_conv.bn)
    bottleneck = head.fuse_layer.bottleneck
    _copy_cbr(ref.bottleneck, bottleneck.conv, bottleneck.bn)
    ref.classifier.weight.copy_(head.conv_seg.weight)
    ref.classifier.bias.copy_(head.conv_seg.bias)
