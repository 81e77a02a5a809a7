"""DAFormerHead: MLP embeddings fused by a separable ASPP, as DAFormer."""
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmcv.cnn import DepthwiseSeparableConvModule
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import mmseg_uda  # noqa: F401  (registers the head)
from mmseg_uda.models import DAFormerHead
from tests.conftest import REPO_ROOT
from tests.reference.daformer_head import OriginalDAFormerHead, copy_from_head
from tests.reference.original_deeplabv2 import randomize_bn_statistics

CONFIG = 'configs/_base_/models/daformer_sepaspp_mitb5.py'
IN_CHANNELS = (8, 16, 24, 32)
SIZES = (16, 8, 4, 2)


def _decoder_params(embed_dims=16, **fusion):
    mlp = dict(type='mlp', act_cfg=None, norm_cfg=None)
    fusion_cfg = dict(type='aspp', sep=True, dilations=(1, 6, 12, 18),
                      pool=False, act_cfg=dict(type='ReLU'),
                      norm_cfg=dict(type='BN', requires_grad=True))
    fusion_cfg.update(fusion)
    return dict(embed_dims=embed_dims, embed_cfg=mlp, embed_neck_cfg=mlp,
                fusion_cfg=fusion_cfg)


def _tiny_head(**kwargs):
    cfg = dict(in_channels=list(IN_CHANNELS), in_index=[0, 1, 2, 3],
               channels=12, dropout_ratio=0.1, num_classes=5,
               norm_cfg=dict(type='BN', requires_grad=True),
               align_corners=False, decoder_params=_decoder_params())
    cfg.update(kwargs)
    return DAFormerHead(**cfg)


def _feats(batch=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, c, s, s, generator=gen)
            for c, s in zip(IN_CHANNELS, SIZES)]


def _pair():
    torch.manual_seed(0)
    head = _tiny_head()
    head.init_weights()
    randomize_bn_statistics(head, seed=1)
    ref = OriginalDAFormerHead(IN_CHANNELS, embed_dims=16, channels=12,
                               num_classes=5, dilations=(1, 6, 12, 18),
                               dropout_ratio=0.1)
    copy_from_head(ref, head)
    return head, ref


def test_forward_equals_original_in_eval_mode():
    head, ref = _pair()
    head.eval()
    ref.eval()
    feats = _feats()
    with torch.no_grad():
        out, expected = head(feats), ref(feats)
    assert out.shape == (2, 5, 16, 16)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_forward_equals_original_in_train_mode():
    head, ref = _pair()
    head.train()
    ref.train()
    feats = _feats()
    # the only random op is the final Dropout2d: same seed, same mask
    torch.manual_seed(7)
    out = head(feats)
    torch.manual_seed(7)
    expected = ref(feats)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)
    # BN updated its running statistics the same way
    bn_ours = head.fuse_layer.bottleneck.bn
    bn_ref = ref.bottleneck[1]
    torch.testing.assert_close(bn_ours.running_mean, bn_ref.running_mean,
                               atol=1e-6, rtol=0)
    torch.testing.assert_close(bn_ours.running_var, bn_ref.running_var,
                               atol=1e-6, rtol=0)
    # gradients reach every parameter
    out.sum().backward()
    assert all(p.grad is not None for p in head.parameters())
    # dropout is active: another seed, another mask
    torch.manual_seed(8)
    with torch.no_grad():
        assert not torch.allclose(head(feats), out, atol=1e-3)


def test_parameter_names_are_the_originals():
    """DAFormer's released checkpoints use these names."""
    head = _tiny_head()
    names = set(head.state_dict())
    for i in range(4):
        assert f'embed_layers.{i}.proj.weight' in names
    assert 'fuse_layer.aspp_modules.0.conv.weight' in names
    for k in (1, 2, 3):
        for part in ('depthwise_conv', 'pointwise_conv'):
            assert f'fuse_layer.aspp_modules.{k}.{part}.conv.weight' in names
            assert f'fuse_layer.aspp_modules.{k}.{part}.bn.running_var' \
                in names
    assert 'fuse_layer.bottleneck.conv.weight' in names
    assert 'conv_seg.weight' in names
    assert not any('image_pool' in n for n in names)


def test_levels_are_resized_to_inputs0_and_selected_by_in_index():
    head = _tiny_head(in_channels=list(IN_CHANNELS[1:]), in_index=[1, 2, 3])
    head.eval()
    feats = _feats(batch=1)
    assert head(feats).shape == (1, 5, 16, 16)


def test_pool_branch_and_plain_aspp():
    head = _tiny_head(decoder_params=_decoder_params(sep=False, pool=True))
    assert head.fuse_layer.image_pool is not None
    assert head.fuse_layer.bottleneck.conv.in_channels == 5 * 12
    assert not any(isinstance(m, DepthwiseSeparableConvModule)
                   for m in head.modules())
    head.eval()
    assert head(_feats(batch=1)).shape == (1, 5, 16, 16)


@pytest.mark.parametrize('change, message', [
    (dict(align_corners=True), 'align_corners must be False'),
    (dict(decoder_params=dict(embed_dims=16)), 'lacks'),
    (dict(decoder_params=_decoder_params(embed_dims=[16, 16])),
     '2 embed_dims for 4 levels'),
    (dict(decoder_params=dict(_decoder_params(), fusion_cfg=dict(
        type='isa'))), "unknown layer type 'isa'"),
    (dict(input_transform='resize_concat'), 'multiple_select'),
])
def test_bad_settings_are_refused(change, message):
    with pytest.raises((ValueError, KeyError), match=message):
        _tiny_head(**change)


def test_shipped_config_pins_daformer_numbers():
    """Numbers of DAFormer's network, from lhoyer/MIC
    seg/configs/_base_/models/daformer_sepaspp_mitb5.py
    (fusion_cfg) and its base
    seg/configs/_base_/models/daformer_conv1_mitb5.py (the rest)."""
    model = Config.fromfile(osp.join(REPO_ROOT, CONFIG)).model
    assert model.type == 'UDAEncoderDecoder'
    bb = model.backbone
    # MiT-B5 as in configs/selftrain/segformer_mitb5_dacs_gta2cs.py
    selftrain = Config.fromfile(osp.join(
        REPO_ROOT, 'configs/selftrain/segformer_mitb5_dacs_gta2cs.py'))
    assert bb == selftrain.model.segmentor.backbone
    assert bb.type == 'MixVisionTransformer'
    assert list(bb.num_layers) == [3, 6, 40, 3] and bb.embed_dims == 64
    assert bb.init_cfg.checkpoint == 'checkpoints/mit_b5_mmseg.pth'
    h = model.decode_head
    assert h.type == 'DAFormerHead'
    assert list(h.in_channels) == [64, 128, 320, 512]
    assert list(h.in_index) == [0, 1, 2, 3]
    assert h.channels == 256 and h.dropout_ratio == 0.1
    assert h.num_classes == 19 and h.align_corners is False
    assert h.norm_cfg == dict(type='BN', requires_grad=True)
    p = h.decoder_params
    assert p.embed_dims == 256
    mlp = dict(type='mlp', act_cfg=None, norm_cfg=None)
    assert p.embed_cfg == mlp and p.embed_neck_cfg == mlp
    assert p.fusion_cfg == dict(
        type='aspp', sep=True, dilations=(1, 6, 12, 18), pool=False,
        act_cfg=dict(type='ReLU'),
        norm_cfg=dict(type='BN', requires_grad=True))

    head = MODELS.build(h)
    assert isinstance(head, DAFormerHead)
    assert [head.embed_layers[str(i)].proj.in_features
            for i in range(4)] == [64, 128, 320, 512]
    assert all(head.embed_layers[str(i)].proj.out_features == 256
               for i in range(4))
    aspp = head.fuse_layer.aspp_modules
    assert aspp[0].conv.kernel_size == (1, 1)
    assert aspp[0].conv.in_channels == 4 * 256
    for k, rate in zip((1, 2, 3), (6, 12, 18)):
        dw = aspp[k].depthwise_conv.conv
        assert dw.kernel_size == (3, 3) and dw.dilation == (rate, rate)
        assert dw.padding == (rate, rate) and dw.groups == 4 * 256
        assert isinstance(aspp[k].depthwise_conv.bn, nn.BatchNorm2d)
        assert isinstance(aspp[k].pointwise_conv.activate, nn.ReLU)
        assert aspp[k].pointwise_conv.conv.out_channels == 256
    bottleneck = head.fuse_layer.bottleneck
    assert bottleneck.conv.kernel_size == (3, 3)
    assert bottleneck.conv.in_channels == 4 * 256
    assert isinstance(bottleneck.bn, nn.BatchNorm2d)
    assert isinstance(bottleneck.activate, nn.ReLU)
    assert head.fuse_layer.image_pool is None
    assert head.dropout.p == 0.1 and head.conv_seg.out_channels == 19


def test_shipped_model_builds_and_runs():
    """The whole MiT-B5 + DAFormer head model (no checkpoint loaded)."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(osp.join(REPO_ROOT, CONFIG))
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    assert isinstance(model.decode_head, DAFormerHead)
    model.eval()
    with torch.no_grad():
        logits = model._forward(torch.randn(1, 3, 64, 64))
    # level 0 of MiT is at 1/4 of the input
    assert logits.shape == (1, 19, 16, 16)
