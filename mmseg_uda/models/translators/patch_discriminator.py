"""CycleGAN's PatchGAN discriminator (``basic``, ``n_layers_D=3``)."""
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from .resnet_generator import init_normal, instance_norm


@MODELS.register_module()
class PatchDiscriminator(nn.Module):
    """PatchGAN: one real/fake logit per overlapping image patch.

    A 4x4 stride-2 conv to ``base_channels`` (no norm) and LeakyReLU(0.2),
    then ``num_layers - 1`` stride-2 4x4 convs doubling the channels (at
    most 8x base), one stride-1 4x4 conv, each with instance norm and
    LeakyReLU(0.2), and a stride-1 4x4 conv to one channel. No sigmoid
    (LSGAN, or BCE with logits). With 3 layers the receptive field is 70x70
    and a 32x32 input gives a 2x2 map. Weights N(0, 0.02) at construction.

    Args:
        in_channels (int): Input image channels. Defaults to 3.
        base_channels (int): CycleGAN's ``ndf``. Defaults to 64.
        num_layers (int): CycleGAN's ``n_layers_D``. Defaults to 3.
        init_std (float): Std of the normal weight init. Defaults to 0.02.
    """

    def __init__(self,
                 in_channels: int = 3,
                 base_channels: int = 64,
                 num_layers: int = 3,
                 init_std: float = 0.02) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f'num_layers must be >= 1, got {num_layers}')
        ndf = base_channels
        layers = [
            nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, True)
        ]
        mult = 1
        for n in range(1, num_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < num_layers else 1
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride,
                          padding=1, bias=True),
                instance_norm(ndf * mult),
                nn.LeakyReLU(0.2, True)
            ]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)
        init_normal(self, init_std)

    def forward(self, x: Tensor) -> Tensor:
        """Patch logits of shape (N, 1, h, w)."""
        return self.model(x)
