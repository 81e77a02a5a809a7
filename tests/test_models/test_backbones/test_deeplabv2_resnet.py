"""DeepLabV2ResNet: mmseg's ResNet laid out as the originals."""
import pytest
import torch
import torch.nn as nn
from mmseg.models.backbones import ResNet

from mmseg_uda.models import DeepLabV2ResNet


def test_defaults_match_the_original_layout():
    net = DeepLabV2ResNet(depth=101)
    assert net.maxpool.ceil_mode is True
    assert (net.maxpool.kernel_size, net.maxpool.stride,
            net.maxpool.padding) == (3, 2, 1)
    assert net.conv1.kernel_size == (7, 7) and net.conv1.stride == (2, 2)
    assert net.conv1.bias is None and not net.deep_stem
    assert [len(getattr(net, f'layer{i}')) for i in range(1, 5)] == \
        [3, 4, 23, 3]
    # caffe style: the stride sits on the first 1x1 conv of layer2.
    first = net.layer2[0]
    assert first.conv1.stride == (2, 2) and first.conv2.stride == (1, 1)
    # layer3/4: stride 1, every block (the first one too) dilated 2 / 4.
    assert all(b.conv2.dilation == (2, 2) and b.conv2.padding == (2, 2)
               for b in net.layer3)
    assert all(b.conv2.dilation == (4, 4) for b in net.layer4)
    assert net.layer3[0].conv1.stride == (1, 1)
    # a 1x1 downsample conv + BN on the first block of every stage only
    for i in range(1, 5):
        layer = getattr(net, f'layer{i}')
        assert isinstance(layer[0].downsample[0], nn.Conv2d)
        assert layer[0].downsample[0].kernel_size == (1, 1)
        assert all(b.downsample is None for b in list(layer)[1:])
    # frozen BN parameters, BN in train mode
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(not p.requires_grad for m in bns
                       for p in m.parameters())
    net.train()
    assert all(m.training for m in bns)


def test_output_stride_8_with_ceil_mode_and_channels():
    net = DeepLabV2ResNet(depth=50)
    net.eval()  # mmseg's ResNet.train() returns None: no chaining
    with torch.no_grad():
        l3, l4 = net(torch.randn(1, 3, 64, 96))
    # 64x96 -> stem conv 32x48 -> ceil-mode pool 17x25 -> layer2 9x13
    assert l3.shape == (1, 1024, 9, 13)
    assert l4.shape == (1, 2048, 9, 13)


def test_ceil_mode_differs_from_mmseg_resnet_on_odd_sizes():
    ours = DeepLabV2ResNet(depth=50)
    stock = ResNet(depth=50)
    x = torch.randn(1, 64, 49, 66)  # stem conv output of a 97x131 image
    assert ours.maxpool(x).shape[-2:] == (25, 34)
    assert stock.maxpool(x).shape[-2:] == (25, 33)


def test_deep_stem_refused():
    with pytest.raises(ValueError, match='7x7 stem'):
        DeepLabV2ResNet(depth=50, deep_stem=True)
