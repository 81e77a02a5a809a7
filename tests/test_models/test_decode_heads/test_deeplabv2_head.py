"""DeepLabV2Head: a sum of dilated 3x3 convs straight to classes."""
import pytest
import torch
import torch.nn.functional as F
from mmseg.structures import SegDataSample
from mmengine.structures import PixelData

from mmseg_uda.models import DeepLabV2Head


def _head(**kwargs):
    cfg = dict(in_channels=8, num_classes=5, in_index=-1, align_corners=True)
    cfg.update(kwargs)
    head = DeepLabV2Head(**cfg)
    head.init_weights()
    return head


def test_parameters_are_exactly_the_classifier_convs():
    head = _head(dilations=(6, 12, 18, 24))
    names = sorted(n for n, _ in head.named_parameters())
    assert names == sorted(f'convs.{i}.{p}' for i in range(4)
                           for p in ('weight', 'bias'))
    assert not hasattr(head, 'conv_seg') and head.dropout is None
    for rate, conv in zip((6, 12, 18, 24), head.convs):
        assert conv.kernel_size == (3, 3)
        assert conv.dilation == (rate, rate) and conv.padding == (rate, rate)
        assert conv.in_channels == 8 and conv.out_channels == 5


def test_forward_is_the_sum_of_the_convs():
    head = _head(dilations=(1, 2))
    x = torch.randn(2, 8, 9, 11)
    expected = sum(
        F.conv2d(x, c.weight, c.bias, padding=r, dilation=r)
        for r, c in zip((1, 2), head.convs))
    assert torch.allclose(head([x]), expected, atol=1e-6)


def test_init_is_normal_001_on_weights():
    torch.manual_seed(0)
    head = _head(in_channels=256, num_classes=19, dilations=(6, ))
    w = head.convs[0].weight
    assert abs(w.std().item() - 0.01) < 0.001
    assert abs(w.mean().item()) < 0.001


def test_loss_upsamples_with_align_corners_and_ignores_255():
    head = _head(dilations=(1, ), loss_decode=dict(
        type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True))
    feats = [torch.randn(1, 8, 4, 5)]
    label = torch.randint(0, 5, (1, 15, 17))
    label[0, :3] = 255
    sample = SegDataSample(gt_sem_seg=PixelData(data=label))
    loss = head.loss(feats, [sample], train_cfg={})['loss_ce']
    logits = F.interpolate(head(feats), size=(15, 17), mode='bilinear',
                           align_corners=True)
    expected = F.cross_entropy(logits, label, ignore_index=255)
    assert torch.allclose(loss, expected, atol=1e-6)


def test_intermediate_channels_or_dropout_refused():
    with pytest.raises(ValueError, match='straight to classes'):
        _head(channels=4)
    with pytest.raises(ValueError, match='straight to classes'):
        _head(dropout_ratio=0.1)
