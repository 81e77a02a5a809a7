"""The fully-convolutional discriminator of AdaptSegNet and ADVENT."""
from typing import List, Optional, Union

import torch.nn as nn
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class FCDiscriminator(BaseModule):
    """Fully-convolutional domain discriminator of the DeepLab-v2 originals.

    A stack of ``num_convs`` 4x4 convolutions with stride 2 and padding 1.
    The first one maps ``in_channels`` to ``base_channels``, every following
    one but the last doubles the channels, and the last one outputs a single
    channel (with the defaults: C -> 64 -> 128 -> 256 -> 512 -> 1). A
    LeakyReLU follows every convolution but the last. There is no
    normalisation, no upsampling and no sigmoid: the output is a map of
    logits, about ``1 / 2 ** num_convs`` of the input size, to be used with
    a BCE-with-logits (or least-squares) objective.

    The weights keep PyTorch's default initialisation, as in the originals.

    Args:
        in_channels (int): Channels of the input map, e.g. the number of
            classes for a softmax or self-information map.
        base_channels (int): Output channels of the first convolution.
            Defaults to 64.
        num_convs (int): Number of convolutions, the last one included.
            Defaults to 5.
        negative_slope (float): Negative slope of the LeakyReLUs.
            Defaults to 0.2.
        init_cfg (dict or list[dict], optional): Initialisation config.
            Defaults to None (PyTorch's default init).
    """

    def __init__(self,
                 in_channels: int,
                 base_channels: int = 64,
                 num_convs: int = 5,
                 negative_slope: float = 0.2,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_convs < 1:
            raise ValueError(
                f'FCDiscriminator needs num_convs >= 1, got {num_convs}')
        if in_channels < 1 or base_channels < 1:
            raise ValueError('FCDiscriminator needs positive in_channels and '
                             f'base_channels, got {in_channels} and '
                             f'{base_channels}')
        self.in_channels = in_channels
        self.base_channels = base_channels
        self.num_convs = num_convs
        self.negative_slope = negative_slope

        channels = [in_channels]
        channels += [base_channels * 2**i for i in range(num_convs - 1)]
        channels.append(1)
        self.convs = nn.ModuleList(
            nn.Conv2d(c_in, c_out, kernel_size=4, stride=2, padding=1)
            for c_in, c_out in zip(channels[:-1], channels[1:]))
        self.activation = nn.LeakyReLU(negative_slope=negative_slope)

    def forward(self, x: Tensor) -> Tensor:
        """Compute the domain logits.

        Args:
            x (Tensor): Input map of shape (N, in_channels, H, W).

        Returns:
            Tensor: Logits of shape (N, 1, H', W'), each convolution mapping
            a size ``s`` to ``floor(s / 2)``.
        """
        last = len(self.convs) - 1
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < last:
                x = self.activation(x)
        return x
