"""HRDAHead: per-scale DAFormer heads fused by a learned scale attention,
compared with a re-statement of lhoyer/MIC
seg/mmseg/models/decode_heads/hrda_head.py (tests/reference/hrda.py)."""
import inspect

import pytest
import torch
import torch.nn as nn

import mmseg_uda  # noqa: F401  (registers the head)
from mmseg_uda.models import DAFormerHead, HRDAHead
from tests.reference import hrda as ref
from tests.reference.original_deeplabv2 import randomize_bn_statistics

IN_CHANNELS = (8, 16, 24, 32)


def head_kwargs(**kwargs):
    """A tiny HRDAHead over DAFormer heads with the shipped ASPP fusion."""
    mlp = dict(type='mlp', act_cfg=None, norm_cfg=None)
    norm_cfg = dict(type='BN', requires_grad=True)
    cfg = dict(
        single_scale_head='DAFormerHead',
        in_channels=list(IN_CHANNELS), in_index=[0, 1, 2, 3], channels=12,
        dropout_ratio=0.1, num_classes=5, norm_cfg=norm_cfg,
        align_corners=False, attention_embed_dim=8, scales=[0.5, 1],
        decoder_params=dict(
            embed_dims=16, embed_cfg=mlp, embed_neck_cfg=mlp,
            fusion_cfg=dict(type='aspp', sep=True, dilations=(1, 6, 12, 18),
                            pool=False, act_cfg=dict(type='ReLU'),
                            norm_cfg=norm_cfg)))
    cfg.update(kwargs)
    return cfg


def _head(**kwargs):
    torch.manual_seed(0)
    head = HRDAHead(**head_kwargs(**kwargs))
    head.init_weights()
    # non-trivial weights everywhere, BN statistics included
    with torch.no_grad():
        for param in head.parameters():
            param.add_(0.1 * torch.randn_like(param))
    randomize_bn_statistics(head, seed=1)
    return head.eval()


def _feats(size, batch=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, c, size // 2**i, size // 2**i, generator=gen)
            for i, c in enumerate(IN_CHANNELS)]


def _attention(head):
    return head.scale_attention


@pytest.mark.parametrize('box', [(16, 48, 8, 40), (0, 32, 32, 64)])
def test_fusion_with_detail_crop_equals_original(box):
    head = _head()
    # context: a 64x64 input at scale 0.5 -> stride-4 features of 8x8;
    # detail: a 32x32 crop at scale 1 -> 8x8
    inputs = [_feats(8, seed=0), _feats(8, seed=1)]
    with torch.no_grad():
        out = head(inputs, hr_crop_box=box)
        expected = ref.hrda_head_forward(head.head, _attention(head), inputs,
                                         [0.5, 1], os=4, hr_crop_box=box)
    assert out[0].shape == (2, 5, 16, 16)
    assert out[2].shape == (2, 5, 8, 8)
    for got, want in zip(out, expected):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    # away from the crop (the attention is masked at the context's
    # resolution, then upsampled bilinearly: one pixel of blending) the
    # fused map is the upsampled context alone
    y1, y2, x1, x2 = (v // 4 for v in box)
    outside = torch.ones(16, 16, dtype=torch.bool)
    outside[max(y1 - 1, 0):y2 + 1, max(x1 - 1, 0):x2 + 1] = False
    lr_up = nn.functional.interpolate(
        head.head(inputs[0]), scale_factor=2, mode='bilinear')
    torch.testing.assert_close(out[0][..., outside], lr_up[..., outside],
                               atol=1e-5, rtol=0)


def test_fusion_of_sliding_detail_windows_equals_original():
    head = _head()
    # detail scale of 64x64 slid with 32x32 windows, stride 16: 9 windows
    img = torch.randn(2, 3, 64, 64)
    backbone = _window_backbone()
    slide = ref.extract_slide_feat(backbone, img, (32, 32))
    assert len(slide['boxes']) == 9
    inputs = [_feats(8, seed=0), slide]
    with torch.no_grad():
        out = head(inputs)
        expected = ref.hrda_head_forward(
            head.head, _attention(head),
            [inputs[0], dict(slide, boxes=[list(b) for b in slide['boxes']])],
            [0.5, 1], os=4)
    assert out[2].shape == (2, 5, 16, 16)
    for got, want in zip(out, expected):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def _window_backbone():
    """Stride-4 pyramid features of the tiny head's channels."""
    gen = torch.Generator().manual_seed(3)
    weights = [torch.randn(c, 3, 1, 1, generator=gen) for c in IN_CHANNELS]

    def backbone(img):
        return [nn.functional.conv2d(
            nn.functional.avg_pool2d(img, 4 * 2**i), w)
            for i, w in enumerate(weights)]
    return backbone


def test_attention_head_as_original():
    head = _head()
    att = head.scale_attention
    assert isinstance(att, DAFormerHead)
    assert att.channels == 8
    assert all(layer.proj.out_features == 8
               for layer in att.embed_layers.values())
    # the ASPP fusion becomes a 1x1 conv + ReLU with the same norm
    fuse = att.fuse_layer
    assert fuse.conv.kernel_size == (1, 1)
    assert isinstance(fuse.activate, nn.ReLU)
    assert isinstance(fuse.bn, nn.BatchNorm2d)
    assert att.conv_seg.out_channels == 5
    # the per-scale head keeps the ASPP
    assert hasattr(head.head.fuse_layer, 'aspp_modules')
    assert not hasattr(head, 'conv_seg')


def test_single_channel_attention_equals_original():
    head = _head(attention_classwise=False)
    assert head.scale_attention.conv_seg.out_channels == 1
    inputs = [_feats(8, seed=0), _feats(8, seed=1)]
    with torch.no_grad():
        out = head(inputs, hr_crop_box=(8, 40, 16, 48))
        expected = ref.hrda_head_forward(head.head, head.scale_attention,
                                         inputs, [0.5, 1], os=4,
                                         hr_crop_box=(8, 40, 16, 48))
    for got, want in zip(out, expected):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_fixed_attention_mixes_with_a_constant():
    head = _head(fixed_attention=0.25)
    assert head.scale_attention is None
    lr, hr = _feats(8, seed=0), _feats(16, seed=1)
    with torch.no_grad():
        fused, _, _ = head([lr, hr])
        lr_up = nn.functional.interpolate(head.head(lr), scale_factor=2,
                                          mode='bilinear')
    torch.testing.assert_close(fused, 0.25 * head.head(hr) + 0.75 * lr_up,
                               atol=1e-5, rtol=0)


def test_defaults_as_original_head():
    """lhoyer/MIC seg/mmseg/models/decode_heads/hrda_head.py defaults
    (the detail loss weight is HRDA's shipped 0.1, see the segmentor
    tests)."""
    params = inspect.signature(HRDAHead).parameters
    assert params['lr_loss_weight'].default == \
        ref.ORIGINAL_HEAD_DEFAULTS['lr_loss_weight']
    assert params['attention_embed_dim'].default == \
        ref.ORIGINAL_HEAD_DEFAULTS['attention_embed_dim']
    assert _head().os == ref.ORIGINAL_HEAD_DEFAULTS['daformer_os']


@pytest.mark.parametrize('kwargs, match', [
    (dict(single_scale_head='ASPPHead'), 'single_scale_head'),
    (dict(hr_loss_weight=0.6, lr_loss_weight=0.5), 'at most 1'),
    (dict(hr_loss_weight=-0.1), 'hr_loss_weight'),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HRDAHead(**head_kwargs(**kwargs))


def test_needs_two_scales_of_features():
    with pytest.raises(ValueError, match='2 scales'):
        _head()([_feats(8)])


def test_losses_are_left_to_the_segmentor():
    with pytest.raises(NotImplementedError, match='HRDAEncoderDecoder'):
        _head().loss([_feats(8), _feats(8)], [], {})
