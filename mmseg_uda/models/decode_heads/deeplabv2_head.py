"""DeepLab-v2 classifier: a sum of dilated 3x3 convs straight to classes."""
from typing import List, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class DeepLabV2Head(BaseDecodeHead):
    """The ``Classifier_Module`` of the DeepLab-v2 UDA originals.

    One 3x3 convolution per rate maps the features straight to class logits
    (padding = dilation = rate, with bias); the outputs are summed. There is
    no BN, ReLU, dropout or 1x1 ``conv_seg``: the layer that
    :class:`BaseDecodeHead` creates is removed so the head holds exactly the
    original parameters.

    ADVENT, IntraDA and BDL sum the rates ``(6, 12, 18, 24)``. AdaptSegNet's
    code returns inside its summation loop, so its published models sum only
    ``(6, 12)``.

    Args:
        in_channels (int): Channels of the input feature map (2048 for the
            main classifier on layer4, 1024 for the auxiliary one on layer3).
        dilations (Sequence[int]): One rate per 3x3 convolution.
            Defaults to ``(6, 12, 18, 24)``.
        init_std (float): Std of the normal init of the conv weights; the
            biases keep PyTorch's default init, as in the originals. Used
            when ``init_cfg`` is None. Defaults to 0.01.
        **kwargs: Arguments of :class:`BaseDecodeHead` (``num_classes``,
            ``in_index``, ``align_corners``, ``loss_decode`` ...).
    """

    def __init__(self,
                 in_channels: int,
                 dilations: Sequence[int] = (6, 12, 18, 24),
                 init_std: float = 0.01,
                 **kwargs) -> None:
        if kwargs.pop('channels', in_channels) != in_channels or \
                kwargs.pop('dropout_ratio', 0):
            raise ValueError('DeepLabV2Head has no intermediate channels and '
                             'no dropout: the classifier maps features '
                             'straight to classes')
        kwargs.setdefault('init_cfg', None)
        super().__init__(
            in_channels, channels=in_channels, dropout_ratio=0, **kwargs)
        del self.conv_seg
        if len(dilations) == 0:
            raise ValueError('DeepLabV2Head needs at least one dilation rate')
        self.dilations = tuple(dilations)
        self.init_std = init_std
        self.convs = nn.ModuleList(
            nn.Conv2d(
                self.in_channels,
                self.out_channels,
                kernel_size=3,
                padding=rate,
                dilation=rate,
                bias=True) for rate in self.dilations)

    def init_weights(self) -> None:
        """Normal-init the conv weights as the originals, unless ``init_cfg``
        says otherwise."""
        super().init_weights()
        if self.init_cfg is None:
            for conv in self.convs:
                nn.init.normal_(conv.weight, mean=0.0, std=self.init_std)

    def cls_seg(self, feat: Tensor) -> Tensor:
        """Sum the dilated convolutions in the originals' order."""
        out = self.convs[0](feat)
        for conv in self.convs[1:]:
            out = out + conv(feat)
        return out

    def forward(self, inputs: Union[Tensor, List[Tensor], Tuple[Tensor]]
                ) -> torch.Tensor:
        """Compute logits at feature resolution."""
        return self.cls_seg(self._transform_inputs(inputs))
