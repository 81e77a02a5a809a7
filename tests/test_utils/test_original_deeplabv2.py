"""Converted original DeepLab-v2 weights reproduce the original network."""
import os.path as osp

import pytest
import torch

from mmseg_uda.models import DeepLabV2ResNet
from mmseg_uda.utils import convert_original_deeplabv2
from tests.reference.models import build_deeplabv2
from tests.reference.original_deeplabv2 import (OriginalResNetMulti,
                                                randomize_bn_statistics)
from tests.tool_runs import run_python

# An odd size where the ceil-mode stem max-pool changes the feature size.
ODD_SIZE = (97, 131)


def _original(multi_level=True, rates=(6, 12, 18, 24), used_rates=None,
              layers=(3, 4, 23, 3), num_classes=19, seed=0):
    torch.manual_seed(seed)
    net = OriginalResNetMulti(
        layers=layers, num_classes=num_classes, rates=rates,
        used_rates=used_rates, multi_level=multi_level)
    randomize_bn_statistics(net, seed)
    return net


def _convert_with_tool(repo_root, tmp_path, state_dict, *extra_args):
    src = osp.join(tmp_path, 'original.pth')
    dst = osp.join(tmp_path, 'converted.pth')
    torch.save(state_dict, src)
    proc = run_python(['tools/model_converters/original_deeplabv2.py', src,
                       dst, *extra_args], repo_root=repo_root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Plain meta: loads with torch's default (weights_only=True).
    return torch.load(dst, weights_only=True)


def _logits(model, x):
    feats = model.extract_feat(x)
    aux = model.auxiliary_head.forward(feats) \
        if model.with_auxiliary_head else None
    return aux, model.decode_head.forward(feats)


@pytest.mark.slow
@pytest.mark.parametrize('drop_num_batches_tracked', [True, False])
def test_multi_level_advent_file(repo_root, tmp_path,
                                 drop_num_batches_tracked):
    original = _original().eval()
    state = original.state_dict()
    if drop_num_batches_tracked:  # PyTorch 0.4.0 files have none
        state = {k: v for k, v in state.items()
                 if not k.endswith('num_batches_tracked')}
    ckpt = _convert_with_tool(repo_root, tmp_path, state)
    assert ckpt['meta']['levels'] == 'multi'
    assert ckpt['meta']['num_rates'] == 4

    model = build_deeplabv2().eval()
    model.load_state_dict(ckpt['state_dict'], strict=True)
    x = torch.randn(2, 3, *ODD_SIZE) * 50
    with torch.no_grad():
        ref_aux, ref_main = original(x)
        aux, main = _logits(model, x)
    assert main.shape == ref_main.shape
    assert (main - ref_main).abs().max() < 1e-4
    assert (aux - ref_aux).abs().max() < 1e-4


@pytest.mark.slow
def test_train_mode_uses_batch_statistics_like_the_original(tmp_path):
    """Frozen BN parameters, but batch statistics and running-stat updates
    in train mode, exactly as the originals."""
    original = _original(layers=(1, 1, 1, 1))
    converted, _ = convert_original_deeplabv2(original.state_dict())
    # depth 50 with the same per-stage layout is enough for the check; build
    # the 1-1-1-1 layout by truncating the stages of a depth-50 model.
    model = build_deeplabv2(depth=50)
    for name in ('layer1', 'layer2', 'layer3', 'layer4'):
        stage = getattr(model.backbone, name)
        setattr(model.backbone, name, torch.nn.Sequential(stage[0]))
    model.load_state_dict(converted, strict=True)
    original.train()
    model.train()
    x = torch.randn(2, 3, 41, 57) * 50
    ref_aux, ref_main = original(x)
    aux, main = _logits(model, x)
    assert (main - ref_main).abs().max() < 1e-4
    assert (aux - ref_aux).abs().max() < 1e-4
    assert torch.allclose(model.backbone.bn1.running_mean,
                          original.bn1.running_mean, atol=1e-5)
    frozen = [p for n, p in model.backbone.named_parameters() if 'bn' in n
              or 'downsample.1' in n]
    assert frozen and not any(p.requires_grad for p in frozen)
    assert all(p.requires_grad for p in model.decode_head.parameters())


@pytest.mark.slow
def test_adaptsegnet_single_level_two_rates(repo_root, tmp_path):
    # AdaptSegNet builds 4 convs but sums only (6, 12).
    original = _original(multi_level=False, used_rates=2).eval()
    ckpt = _convert_with_tool(repo_root, tmp_path, original.state_dict(),
                              '--num-rates', '2')
    assert ckpt['meta']['levels'] == 'single'
    assert not any(k.startswith('auxiliary_head') for k in ckpt['state_dict'])
    model = build_deeplabv2(dilations=(6, 12), multi_level=False).eval()
    model.load_state_dict(ckpt['state_dict'], strict=True)
    x = torch.randn(1, 3, *ODD_SIZE) * 50
    with torch.no_grad():
        _, ref_main = original(x)
        _, main = _logits(model, x)
    assert (main - ref_main).abs().max() < 1e-4


@pytest.mark.slow
def test_scale_prefixed_init_file_loads_into_backbone(tmp_path):
    original = _original(layers=(3, 4, 23, 3), num_classes=21).eval()
    init = {f'Scale.{k}': v for k, v in original.state_dict().items()}
    converted, info = convert_original_deeplabv2(init)
    assert info['init_file'] and info['levels'] == 'init'
    assert all(k.startswith('backbone.') for k in converted)
    path = osp.join(tmp_path, 'init.pth')
    torch.save(dict(state_dict=converted), path)
    # as the R101 configs load it: the backbone's Pretrained init_cfg
    backbone = DeepLabV2ResNet(init_cfg=dict(
        type='Pretrained', checkpoint=path, prefix='backbone.'))
    backbone.init_weights()
    backbone.eval()
    x = torch.randn(1, 3, *ODD_SIZE) * 50
    with torch.no_grad():
        ref = original.layer4(original.layer3(original.layer2(
            original.layer1(original.maxpool(original.relu(original.bn1(
                original.conv1(x))))))))
        ours = backbone(x)[-1]
    assert (ours - ref).abs().max() < 1e-4


def test_unknown_key_and_bad_num_rates_are_refused():
    original = _original(layers=(1, 1, 1, 1))
    state = dict(original.state_dict())
    with pytest.raises(ValueError, match='num_rates=5'):
        convert_original_deeplabv2(state, num_rates=5)
    state['layer7.weight'] = torch.zeros(1)
    with pytest.raises(KeyError, match='layer7.weight'):
        convert_original_deeplabv2(state)


@pytest.mark.slow
def test_missing_source_file_is_named(repo_root, tmp_path):
    missing = osp.join(tmp_path, 'nope.pth')
    proc = run_python(['tools/model_converters/original_deeplabv2.py',
                       missing, osp.join(tmp_path, 'out.pth')],
                      repo_root=repo_root)
    assert proc.returncode != 0
    assert missing in proc.stderr
    assert not osp.exists(osp.join(tmp_path, 'out.pth'))


@pytest.mark.slow
def test_checkpoint_of_ours_keeps_the_first_convs(repo_root, tmp_path):
    """A UDA checkpoint of ours with --num-rates 2: the segmentor's weights
    with the main classifier's first two convs, the form BDL's perceptual
    network (cyclegan/deeplab.py) uses, loadable into dilations=(6, 12)."""
    torch.manual_seed(0)
    model = build_deeplabv2(depth=50, multi_level=False)
    state = {f'segmentor.{k}': v for k, v in model.state_dict().items()}
    state['discriminators.main.0.weight'] = torch.zeros(2)
    src = osp.join(tmp_path, 'uda.pth')
    torch.save(dict(state_dict=state, meta=dict(iter=2)), src)
    dst = osp.join(tmp_path, 'perceptual.pth')
    proc = run_python(['tools/model_converters/original_deeplabv2.py', src,
                       dst, '--num-rates', '2'], repo_root=repo_root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = torch.load(dst, weights_only=True)
    converted = ckpt['state_dict']
    assert {k.split('.')[2] for k in converted
            if k.startswith('decode_head.convs.')} == {'0', '1'}
    assert not any(k.startswith(('segmentor.', 'discriminators.'))
                   for k in converted)
    two_rates = build_deeplabv2(depth=50, multi_level=False,
                                dilations=(6, 12)).eval()
    two_rates.load_state_dict(converted, strict=True)
    model.eval()
    x = torch.randn(1, 3, 41, 57) * 50
    with torch.no_grad():
        feats = model.extract_feat(x)
        head = model.decode_head
        expected = head.convs[0](feats[1]) + head.convs[1](feats[1])
        _, main = _logits(two_rates, x)
    assert (main - expected).abs().max() < 1e-4
