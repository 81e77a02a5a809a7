"""CycleGAN's ResNet generator (``resnet_9blocks``), as BDL trains it."""
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """CycleGAN's ``init_type='normal'``: conv weights N(0, std), bias 0.

    Instance norms without affine parameters have nothing to initialise.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def instance_norm(channels: int) -> nn.Module:
    """CycleGAN's ``norm='instance'``: no affine, no running statistics."""
    return nn.InstanceNorm2d(channels, affine=False,
                             track_running_stats=False)


class ResnetBlock(nn.Module):
    """Residual block: (reflect pad, 3x3 conv, IN, ReLU) x2, no final ReLU.

    Args:
        channels (int): Input and output channels.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=True),
            instance_norm(channels), nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=True),
            instance_norm(channels))

    def forward(self, x: Tensor) -> Tensor:
        """Add the block's output to its input."""
        return x + self.conv_block(x)


@MODELS.register_module()
class ResnetGenerator(nn.Module):
    """Image-to-image generator of CycleGAN (``resnet_<n>blocks``).

    7x7 conv (reflection padding) to ``base_channels``, two stride-2 3x3
    downsampling convs, ``num_blocks`` residual blocks at 4x the base
    channels, two stride-2 transposed convs back, a 7x7 conv to
    ``out_channels`` and tanh. Instance norm (no affine), ReLU, no dropout;
    conv biases on (CycleGAN uses biases with instance norm). Weights are
    initialised N(0, 0.02) at construction. The output has the input's size
    when height and width are multiples of 4.

    Args:
        in_channels (int): Input image channels. Defaults to 3.
        out_channels (int): Output image channels. Defaults to 3.
        base_channels (int): CycleGAN's ``ngf``. Defaults to 64.
        num_blocks (int): Residual blocks (9 for ``resnet_9blocks``).
        init_std (float): Std of the normal weight init. Defaults to 0.02.
    """

    def __init__(self,
                 in_channels: int = 3,
                 out_channels: int = 3,
                 base_channels: int = 64,
                 num_blocks: int = 9,
                 init_std: float = 0.02) -> None:
        super().__init__()
        if num_blocks < 0:
            raise ValueError(f'num_blocks must be >= 0, got {num_blocks}')
        ngf = base_channels
        layers = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, 7, bias=True),
            instance_norm(ngf), nn.ReLU(True)
        ]
        for i in range(2):
            mult = 2**i
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2,
                          padding=1, bias=True),
                instance_norm(ngf * mult * 2), nn.ReLU(True)
            ]
        layers += [ResnetBlock(ngf * 4) for _ in range(num_blocks)]
        for i in range(2):
            mult = 2**(2 - i)
            layers += [
                nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2,
                                   padding=1, output_padding=1, bias=True),
                instance_norm(ngf * mult // 2), nn.ReLU(True)
            ]
        layers += [
            nn.ReflectionPad2d(3),
            nn.Conv2d(ngf, out_channels, 7),
            nn.Tanh()
        ]
        self.model = nn.Sequential(*layers)
        init_normal(self, init_std)

    def forward(self, x: Tensor) -> Tensor:
        """Translate images in [-1, 1] to images in [-1, 1]."""
        return self.model(x)
