"""HRDA's decode head: one head per scale fused by a learned scale
attention."""
import copy
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor

from ..utils.hrda_crops import Box, average_windows, scale_box

#: Output stride (input pixels per logit) of each supported per-scale head.
HEAD_OUTPUT_STRIDES = {'DAFormerHead': 4}

Features = Union[Sequence[Tensor], Dict[str, object]]


@MODELS.register_module()
class HRDAHead(BaseDecodeHead):
    """The decode head of `HRDA <https://arxiv.org/abs/2204.13132>`_.

    It holds ``head``, a ``single_scale_head`` built from this head's own
    arguments and applied to the features of every scale, and
    ``scale_attention``, a second head of the same type whose sigmoid is
    the weight of the high-resolution prediction. As HRDA's
    ``HRDAHead``, the attention head of a DAFormer head has
    ``attention_embed_dim`` channels and embedding dims, a 1x1 conv + ReLU
    fusion instead of the ASPP, and one output channel per class
    (``attention_classwise``) or a single one.

    :meth:`forward` takes ``[lr_feats, hr_feats]`` (context and detail
    scale, ``scales[0] <= scales[1]``) and returns ``(fused, lr, hr)``
    exactly as HRDA computes them:

    - ``att = sigmoid(scale_attention(lr_feats))``; with a detail crop
      (``hr_crop_box``, in the coordinates of the detail scale) ``att`` is
      zero outside the crop;
    - ``lr = (1 - att) * head(lr_feats)``, upsampled by
      ``scales[1] / scales[0]`` (bilinear) together with ``att``;
    - ``hr = head(hr_feats)``; ``hr_feats`` may also be the dict of
      overlapping detail windows of ``HRDAEncoderDecoder.
      extract_slide_feat`` (``features``, ``boxes``), whose logits are
      averaged;
    - ``fused = att * hr_inserted + lr_up`` where ``hr_inserted`` is ``hr``
      placed at the crop (zero elsewhere).

    The second and third outputs are the ones HRDA's ``lr_loss_weight`` and
    ``hr_loss_weight`` apply to (the low-resolution one after the attention
    weighting, as in HRDA). :class:`HRDAEncoderDecoder` computes the losses.

    Args:
        single_scale_head (str): Type of the per-scale head; one of
            :data:`HEAD_OUTPUT_STRIDES`.
        lr_loss_weight (float): Weight of the context-scale loss.
            Defaults to 0.
        hr_loss_weight (float): Weight of the detail-crop loss.
            Defaults to 0.1 (HRDA's setting).
        scales (Sequence[float]): Context and detail scale; set by
            :class:`HRDAEncoderDecoder`. Defaults to ``(1, )``.
        attention_embed_dim (int): Channels of the attention head.
            Defaults to 256.
        attention_classwise (bool): One attention channel per class.
            Defaults to True.
        enable_hr_crop (bool): Training uses a detail crop; set by
            :class:`HRDAEncoderDecoder`. Defaults to False.
        hr_slide_inference (bool): Inference slides the detail scale; set
            by :class:`HRDAEncoderDecoder`. Defaults to True.
        fixed_attention (float, optional): A constant attention instead of
            ``scale_attention``. Defaults to None.
        decoder_params (dict, optional): The per-scale head's
            ``decoder_params`` (a DAFormer head's embeddings and fusion).
            Defaults to None (not passed).
        **kwargs: The per-scale head's arguments that
            :class:`BaseDecodeHead` takes too (``in_channels``,
            ``channels``, ``num_classes``, ...).
    """

    def __init__(self,
                 single_scale_head: str,
                 lr_loss_weight: float = 0,
                 hr_loss_weight: float = 0.1,
                 scales: Sequence[float] = (1, ),
                 attention_embed_dim: int = 256,
                 attention_classwise: bool = True,
                 enable_hr_crop: bool = False,
                 hr_slide_inference: bool = True,
                 fixed_attention: Optional[float] = None,
                 decoder_params: Optional[dict] = None,
                 **kwargs) -> None:
        if single_scale_head not in HEAD_OUTPUT_STRIDES:
            raise ValueError(
                f'HRDAHead: single_scale_head must be one of '
                f'{sorted(HEAD_OUTPUT_STRIDES)}, got {single_scale_head!r}')
        for key, weight in (('lr_loss_weight', lr_loss_weight),
                            ('hr_loss_weight', hr_loss_weight)):
            if not 0 <= weight <= 1:
                raise ValueError(f'HRDAHead: {key} must be in [0, 1], got '
                                 f'{weight}')
        if lr_loss_weight + hr_loss_weight > 1:
            raise ValueError(
                'HRDAHead: lr_loss_weight + hr_loss_weight must be at most 1 '
                '(the fused loss has weight 1 minus both)')
        head_cfg = dict(copy.deepcopy(kwargs), type=single_scale_head)
        if decoder_params is not None:
            head_cfg['decoder_params'] = copy.deepcopy(decoder_params)
        attn_cfg = self.attention_head_cfg(head_cfg, attention_embed_dim,
                                           attention_classwise)
        base_kwargs = dict(kwargs, init_cfg=None,
                           input_transform='multiple_select')
        super().__init__(**base_kwargs)
        # the per-scale heads classify; this wrapper has no classifier
        del self.conv_seg
        del self.dropout

        self.head = MODELS.build(head_cfg)
        if fixed_attention is None:
            self.scale_attention = MODELS.build(attn_cfg)
        else:
            self.scale_attention = None
        self.fixed_attention = fixed_attention
        self.os = HEAD_OUTPUT_STRIDES[single_scale_head]
        self.lr_loss_weight = lr_loss_weight
        self.hr_loss_weight = hr_loss_weight
        self.scales = list(scales)
        self.enable_hr_crop = enable_hr_crop
        self.hr_slide_inference = hr_slide_inference

    @staticmethod
    def attention_head_cfg(head_cfg: dict, embed_dim: int,
                           classwise: bool) -> dict:
        """The config of the scale-attention head, derived from the
        per-scale head's config as HRDA derives it.

        Args:
            head_cfg (dict): The per-scale head's config (with ``type``).
            embed_dim (int): ``attention_embed_dim``.
            classwise (bool): ``attention_classwise``.

        Returns:
            dict: The attention head's config.
        """
        cfg = copy.deepcopy(head_cfg)
        if cfg['type'] == 'DAFormerHead':
            params = cfg.get('decoder_params')
            if not isinstance(params, dict) or 'fusion_cfg' not in params:
                raise KeyError('HRDAHead: a DAFormerHead needs '
                               'decoder_params with a fusion_cfg')
            cfg['channels'] = embed_dim
            params['embed_dims'] = embed_dim
            if params['fusion_cfg'].get('type') == 'aspp':
                params['fusion_cfg'] = dict(
                    type='conv',
                    kernel_size=1,
                    act_cfg=dict(type='ReLU'),
                    norm_cfg=params['fusion_cfg'].get('norm_cfg'))
        if not classwise:
            cfg['num_classes'] = 1
        return cfg

    def scale_attention_map(self, lr_feats: Sequence[Tensor]) -> Union[
            Tensor, float]:
        """The attention of the detail scale from the context features
        (HRDA's ``get_scale_attention``)."""
        if self.scale_attention is None:
            return self.fixed_attention
        return torch.sigmoid(self.scale_attention(lr_feats))

    def decode_hr(self, hr_feats: Features, batch_size: int) -> Tensor:
        """Logits of the detail scale; sliding windows are averaged.

        Args:
            hr_feats (list[Tensor] | dict): Features of the detail scale,
                or ``dict(features=..., boxes=...)`` of its windows (boxes
                in input pixels of the detail scale).
            batch_size (int): Images per window.

        Returns:
            Tensor: Logits at the head's output stride.
        """
        if not isinstance(hr_feats, dict):
            return self.head(hr_feats)
        boxes = [scale_box(box, self.os) for box in hr_feats['boxes']]
        size = (max(b[1] for b in boxes), max(b[3] for b in boxes))
        window_logits = self.head(hr_feats['features'])
        return average_windows(window_logits, boxes, batch_size, size)

    def forward(self,
                inputs: Sequence[Features],
                hr_crop_box: Optional[Box] = None
                ) -> Tuple[Tensor, Tensor, Tensor]:
        """Fuse the context and the detail scale.

        Args:
            inputs (Sequence): ``[lr_feats, hr_feats]`` (see the class
                docstring).
            hr_crop_box (tuple, optional): The detail crop ``(y1, y2, x1,
                x2)`` in pixels of the detail scale; None when the detail
                scale covers the whole image.

        Returns:
            tuple[Tensor, Tensor, Tensor]: ``(fused, lr, hr)`` logits.
        """
        if len(inputs) != 2:
            raise ValueError(f'HRDAHead: needs features of 2 scales, got '
                             f'{len(inputs)}')
        lr_feats, hr_feats = inputs
        lr_scale, hr_scale = self.scales[0], self.scales[-1]
        lr_seg = self.head(lr_feats)
        hr_seg = self.decode_hr(hr_feats, lr_feats[0].shape[0])

        att = self.scale_attention_map(lr_feats)
        if hr_crop_box is not None:
            mask = lr_seg.new_zeros([lr_seg.shape[0], 1, *lr_seg.shape[2:]])
            y1, y2, x1, x2 = scale_box(hr_crop_box, self.os / lr_scale)
            mask[:, :, y1:y2, x1:x2] = 1
            att = att * mask
        lr_seg = (1 - att) * lr_seg
        up_lr_seg = self._upsample(lr_seg, hr_scale / lr_scale)
        if torch.is_tensor(att):
            att = self._upsample(att, hr_scale / lr_scale)

        if hr_crop_box is not None:
            hr_seg_inserted = torch.zeros_like(up_lr_seg)
            y1, y2, x1, x2 = scale_box(hr_crop_box, self.os)
            hr_seg_inserted[:, :, y1:y2, x1:x2] = hr_seg
        else:
            hr_seg_inserted = hr_seg
        fused_seg = att * hr_seg_inserted + up_lr_seg
        return fused_seg, lr_seg, hr_seg

    def _upsample(self, x: Tensor, factor: float) -> Tensor:
        return resize(x, scale_factor=factor, mode='bilinear',
                      align_corners=self.align_corners)

    def loss(self, inputs, batch_data_samples, train_cfg) -> dict:
        """Not used: :class:`HRDAEncoderDecoder` computes HRDA's losses,
        which need the detail crop."""
        raise NotImplementedError('HRDAHead losses are computed by '
                                  'HRDAEncoderDecoder.loss_by_levels')
