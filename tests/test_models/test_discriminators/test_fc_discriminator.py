"""FCDiscriminator: the AdaptSegNet / ADVENT discriminator."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmseg_uda.models.discriminators.fc_discriminator import FCDiscriminator


def test_layers_match_the_original_layout():
    disc = FCDiscriminator(in_channels=19)
    convs = [m for m in disc.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 5
    expected = [(19, 64), (64, 128), (128, 256), (256, 512), (512, 1)]
    assert [(c.in_channels, c.out_channels) for c in convs] == expected
    for conv in convs:
        assert conv.kernel_size == (4, 4)
        assert conv.stride == (2, 2)
        assert conv.padding == (1, 1)
        assert conv.dilation == (1, 1)
        assert conv.bias is not None
    relus = [m for m in disc.modules() if isinstance(m, nn.LeakyReLU)]
    assert relus and all(r.negative_slope == 0.2 for r in relus)
    # No normalisation, no sigmoid anywhere.
    for m in disc.modules():
        assert not isinstance(m, (nn.modules.batchnorm._BatchNorm,
                                  nn.GroupNorm, nn.InstanceNorm2d,
                                  nn.Sigmoid))


def test_parameter_count_for_19_classes():
    disc = FCDiscriminator(in_channels=19)
    # Hand count: weight c_in * c_out * 4 * 4 plus c_out biases per conv.
    #   19 -> 64:   19456 + 64  =   19520
    #   64 -> 128: 131072 + 128 =  131200
    #  128 -> 256: 524288 + 256 =  524544
    #  256 -> 512: 2097152 + 512 = 2097664
    #  512 -> 1:     8192 + 1   =    8193
    assert sum(p.numel() for p in disc.parameters()) == 2781121
    names = {name for name, _ in disc.named_parameters()}
    assert names == {f'convs.{i}.{k}' for i in range(5)
                     for k in ('weight', 'bias')}


@pytest.mark.parametrize('size,out', [((64, 64), (2, 2)),
                                      ((90, 160), (2, 5)),
                                      ((33, 47), (1, 1))])
def test_output_shape(size, out):
    disc = FCDiscriminator(in_channels=3)
    x = torch.randn(2, 3, *size)
    # Each 4x4 / stride 2 / padding 1 conv maps s to floor(s / 2).
    assert disc(x).shape == (2, 1, *out)


def test_forward_equals_a_hand_written_restatement():
    torch.manual_seed(0)
    disc = FCDiscriminator(in_channels=4, base_channels=3, num_convs=3,
                           negative_slope=0.1)
    x = torch.randn(2, 4, 16, 16)
    w = dict(disc.named_parameters())
    h = F.conv2d(x, w['convs.0.weight'], w['convs.0.bias'], 2, 1)
    h = torch.where(h > 0, h, 0.1 * h)
    h = F.conv2d(h, w['convs.1.weight'], w['convs.1.bias'], 2, 1)
    h = torch.where(h > 0, h, 0.1 * h)
    h = F.conv2d(h, w['convs.2.weight'], w['convs.2.bias'], 2, 1)
    assert w['convs.1.weight'].shape == (6, 3, 4, 4)
    assert w['convs.2.weight'].shape == (1, 6, 4, 4)
    out = disc(x)
    assert out.shape == (2, 1, 2, 2)
    torch.testing.assert_close(out, h)
    # Logits, not probabilities: no sigmoid squashes them.
    assert (out < 0).any() or (out > 1).any()


def test_built_from_the_registry_and_default_init():
    torch.manual_seed(1)
    disc = MODELS.build(dict(type='FCDiscriminator', in_channels=19))
    assert isinstance(disc, FCDiscriminator)
    disc.init_weights()
    conv = disc.convs[0]
    # PyTorch's default init: uniform within 1 / sqrt(fan_in).
    bound = 1 / (19 * 4 * 4)**0.5
    assert conv.weight.abs().max() <= bound
    assert conv.bias.abs().max() <= bound


def test_invalid_arguments():
    with pytest.raises(ValueError, match='num_convs'):
        FCDiscriminator(in_channels=19, num_convs=0)
    with pytest.raises(ValueError, match='in_channels'):
        FCDiscriminator(in_channels=0)
