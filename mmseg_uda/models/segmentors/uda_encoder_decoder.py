"""An EncoderDecoder with the extras the UDA originals need."""
from typing import List

from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class UDAEncoderDecoder(EncoderDecoder):
    """Stock :class:`EncoderDecoder` plus the originals' evaluation protocol.

    With ``test_cfg=dict(mode='whole', logits_to_ori_shape=True)`` the
    logits at feature resolution are upsampled in one step, bilinearly with
    the head's ``align_corners``, straight to the original label size
    (``ori_shape``) before the argmax. This is how AdaptSegNet, ADVENT,
    IntraDA and BDL evaluate (images fed at 1024x512, logits upsampled to
    2048x1024). Stock mmseg upsamples twice (to the network input, then to
    ``ori_shape``), which differs slightly. Without the option it behaves
    exactly like :class:`EncoderDecoder`.
    """

    def whole_inference(self, inputs: Tensor,
                        batch_img_metas: List[dict]) -> Tensor:
        """Inference on whole images, optionally upsampling once to
        ``ori_shape``.

        Args:
            inputs (Tensor): Images of shape (N, C, H, W).
            batch_img_metas (List[dict]): Meta information of each image.

        Returns:
            Tensor: Logits of shape (N, num_classes, h, w), where (h, w) is
            the input size, or the original size with ``logits_to_ori_shape``.
        """
        if not self.test_cfg.get('logits_to_ori_shape', False):
            return super().whole_inference(inputs, batch_img_metas)
        ori_shape = tuple(batch_img_metas[0]['ori_shape'][:2])
        for meta in batch_img_metas:
            if tuple(meta['ori_shape'][:2]) != ori_shape:
                raise ValueError(
                    '`logits_to_ori_shape` needs one original size per batch, '
                    f"got {ori_shape} and {meta['ori_shape']} "
                    f"({meta.get('img_path')})")
            if any(meta.get('padding_size', [0] * 4)) or any(
                    meta.get('img_padding_size', [0] * 4)):
                raise ValueError(
                    '`logits_to_ori_shape` cannot be combined with padded '
                    f"inputs ({meta.get('img_path')})")
        logits = self.decode_head.forward(self.extract_feat(inputs))
        return resize(
            logits,
            size=ori_shape,
            mode='bilinear',
            align_corners=self.align_corners,
            warning=False)
