"""An independent re-statement of the originals' DeepLab-v2 network.

Written from the layer layout of AdaptSegNet/ADVENT/IntraDA/BDL's
``ResNetMulti`` (plain torch, no mmseg), used only as a reference in tests:
caffe-style bottleneck (stride on conv1), 7x7 stem, ceil-mode max-pool,
layer3/layer4 dilated 2/4, a downsample on the first block of every stage and
classifiers summing dilated 3x3 convs. ``layer5`` is the auxiliary classifier
on layer3 and ``layer6`` the main one on layer4 in multi-level models; in
single-level models ``layer5`` is the main classifier on layer4.
"""
from typing import Sequence

import torch
import torch.nn as nn


class OriginalBottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, dilation=1,
                 downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(
            inplanes, planes, kernel_size=1, stride=stride, bias=False)
        self.bn1 = nn.BatchNorm2d(planes, affine=True)
        self.conv2 = nn.Conv2d(
            planes, planes, kernel_size=3, stride=1, padding=dilation,
            bias=False, dilation=dilation)
        self.bn2 = nn.BatchNorm2d(planes, affine=True)
        self.conv3 = nn.Conv2d(planes, planes * 4, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4, affine=True)
        for bn in (self.bn1, self.bn2, self.bn3):
            for p in bn.parameters():
                p.requires_grad = False
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        residual = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            residual = self.downsample(x)
        out += residual
        return self.relu(out)


class OriginalClassifier(nn.Module):

    def __init__(self, inplanes, rates, num_classes, used_rates=None):
        super().__init__()
        self.conv2d_list = nn.ModuleList(
            nn.Conv2d(inplanes, num_classes, kernel_size=3, stride=1,
                      padding=r, dilation=r, bias=True) for r in rates)
        for m in self.conv2d_list:
            m.weight.data.normal_(0, 0.01)
        # AdaptSegNet's loop returns early: only the first two are summed.
        self.used = len(rates) if used_rates is None else used_rates

    def forward(self, x):
        out = self.conv2d_list[0](x)
        for i in range(1, self.used):
            out += self.conv2d_list[i](x)
        return out


class OriginalResNetMulti(nn.Module):
    """``ResNetMulti`` (multi_level=True) or the single-level ``ResNet``."""

    def __init__(self, layers: Sequence[int] = (3, 4, 23, 3),
                 num_classes: int = 19,
                 rates: Sequence[int] = (6, 12, 18, 24),
                 used_rates=None, multi_level: bool = True):
        super().__init__()
        self.inplanes = 64
        self.multi_level = multi_level
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(64, affine=True)
        for p in self.bn1.parameters():
            p.requires_grad = False
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1,
                                    ceil_mode=True)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=1, dilation=2)
        self.layer4 = self._make_layer(512, layers[3], stride=1, dilation=4)
        if multi_level:
            self.layer5 = OriginalClassifier(1024, rates, num_classes,
                                             used_rates)
            self.layer6 = OriginalClassifier(2048, rates, num_classes,
                                             used_rates)
        else:
            self.layer5 = OriginalClassifier(2048, rates, num_classes,
                                             used_rates)

    def _make_layer(self, planes, blocks, stride=1, dilation=1):
        downsample = None
        if (stride != 1 or self.inplanes != planes * 4 or dilation == 2
                or dilation == 4):
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * 4, kernel_size=1,
                          stride=stride, bias=False),
                nn.BatchNorm2d(planes * 4, affine=True))
            for p in downsample[1].parameters():
                p.requires_grad = False
        layers = [OriginalBottleneck(self.inplanes, planes, stride,
                                     dilation=dilation, downsample=downsample)]
        self.inplanes = planes * 4
        for _ in range(1, blocks):
            layers.append(OriginalBottleneck(self.inplanes, planes,
                                             dilation=dilation))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        x3 = self.layer3(x)
        x4 = self.layer4(x3)
        if self.multi_level:
            return self.layer5(x3), self.layer6(x4)
        return None, self.layer5(x4)


def randomize_bn_statistics(model: nn.Module, seed: int = 0) -> None:
    """Give every BN non-trivial affine params and running statistics."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = 1 + 0.1 * torch.randn(n, generator=gen)
            m.bias.data = 0.1 * torch.randn(n, generator=gen)
            m.running_mean = 0.1 * torch.randn(n, generator=gen)
            m.running_var = 1 + 0.1 * torch.rand(n, generator=gen)
