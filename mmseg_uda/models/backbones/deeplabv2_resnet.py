"""ResNet laid out as the DeepLab-v2 of AdaptSegNet/ADVENT/IntraDA/BDL."""
from typing import Sequence

from mmseg.models.backbones import ResNet
from mmseg.registry import MODELS


@MODELS.register_module()
class DeepLabV2ResNet(ResNet):
    """mmseg's ResNet with the DeepLab-v2 stem and defaults of the originals.

    The only structural difference to mmseg's :class:`ResNet` is the stem
    max-pool, which the originals build with ``ceil_mode=True`` (mmseg floors,
    so feature maps differ by one pixel on many input sizes). Everything else
    is configuration of the stock ResNet: caffe-style bottlenecks (stride on
    the first 1x1 conv), a single 7x7 stem, layer3/layer4 dilated by 2/4 with
    stride 1 (output stride 8), the first block of each dilated stage dilated
    as well, and frozen BN parameters while BN keeps normalising with batch
    statistics in train mode.

    Args:
        depth (int): ResNet depth. Defaults to 101.
        strides (Sequence[int]): Stride of the first block of each stage.
            Defaults to ``(1, 2, 1, 1)``.
        dilations (Sequence[int]): Dilation of each stage.
            Defaults to ``(1, 1, 2, 4)``.
        out_indices (Sequence[int]): Stages whose outputs are returned.
            Defaults to ``(2, 3)`` (layer3 for the auxiliary classifier,
            layer4 for the main one).
        style (str): ``'caffe'`` puts the stride on the first 1x1 conv.
        norm_cfg (dict): Norm layer config. The originals freeze the BN
            affine parameters: ``requires_grad=False``.
        norm_eval (bool): Whether BN layers stay in eval mode while training.
            The originals keep them in train mode (batch statistics, running
            statistics updated): ``False``.
        ceil_mode (bool): ``ceil_mode`` of the stem max-pool. Defaults to True.
        **kwargs: Any other argument of :class:`mmseg.models.ResNet`.
    """

    def __init__(self,
                 depth: int = 101,
                 strides: Sequence[int] = (1, 2, 1, 1),
                 dilations: Sequence[int] = (1, 1, 2, 4),
                 out_indices: Sequence[int] = (2, 3),
                 style: str = 'caffe',
                 norm_cfg: dict = dict(type='BN', requires_grad=False),
                 norm_eval: bool = False,
                 contract_dilation: bool = False,
                 ceil_mode: bool = True,
                 **kwargs) -> None:
        if kwargs.get('deep_stem', False):
            raise ValueError('DeepLabV2ResNet has the single 7x7 stem of the '
                             'originals; use mmseg ResNetV1c for a deep stem')
        super().__init__(
            depth=depth,
            strides=strides,
            dilations=dilations,
            out_indices=out_indices,
            style=style,
            norm_cfg=norm_cfg,
            norm_eval=norm_eval,
            contract_dilation=contract_dilation,
            **kwargs)
        self.maxpool.ceil_mode = ceil_mode
