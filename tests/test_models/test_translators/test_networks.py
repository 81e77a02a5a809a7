"""ResnetGenerator and PatchDiscriminator: layout, shapes, init."""
import pytest
import torch
import torch.nn as nn

from mmseg_uda.models.translators import PatchDiscriminator, ResnetGenerator


def test_generator_keeps_size_and_range():
    torch.manual_seed(0)
    gen = ResnetGenerator(base_channels=8, num_blocks=2)
    x = torch.rand(2, 3, 32, 40) * 2 - 1
    out = gen(x)
    assert out.shape == x.shape
    assert out.abs().max() <= 1
    # the residual blocks sit at 4x the base channels, 1/4 resolution
    blocks = [m for m in gen.modules() if type(m).__name__ == 'ResnetBlock']
    assert len(blocks) == 2
    assert blocks[0].conv_block[1].in_channels == 32


def test_generator_9_blocks_layout_and_init():
    torch.manual_seed(0)
    gen = ResnetGenerator()
    convs = [m for m in gen.modules()
             if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    # stem + 2 down + 9 * 2 block convs + 2 up + output
    assert len(convs) == 1 + 2 + 18 + 2 + 1
    assert convs[0].kernel_size == (7, 7) and convs[0].out_channels == 64
    assert convs[2].out_channels == 256
    norms = [m for m in gen.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert norms and not any(n.affine for n in norms)
    assert not any(isinstance(m, nn.Dropout) for m in gen.modules())
    weights = torch.cat([c.weight.flatten() for c in convs])
    assert abs(weights.mean().item()) < 1e-3
    assert weights.std().item() == pytest.approx(0.02, rel=0.02)
    assert all((c.bias == 0).all() for c in convs)


def test_patch_discriminator_shapes():
    disc = PatchDiscriminator(base_channels=8, num_layers=3)
    assert disc(torch.zeros(1, 3, 32, 32)).shape == (1, 1, 2, 2)
    # CycleGAN's 70x70 PatchGAN gives 30x30 logits on 256x256 images
    assert disc(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)
    convs = [m for m in disc.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 32, 64, 1]
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    full = PatchDiscriminator()
    assert [c.out_channels for c in full.modules()
            if isinstance(c, nn.Conv2d)] == [64, 128, 256, 512, 1]


def test_bad_arguments():
    with pytest.raises(ValueError, match='num_blocks'):
        ResnetGenerator(num_blocks=-1)
    with pytest.raises(ValueError, match='num_layers'):
        PatchDiscriminator(num_layers=0)
