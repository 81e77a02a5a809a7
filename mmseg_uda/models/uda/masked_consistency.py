"""MIC's masked image consistency, as an option of the DACS step.

MIC (lhoyer/MIC ``seg/mmseg/models/uda/masking_consistency_module.py``,
``MaskingConsistencyModule``, called at the end of ``DACS.forward_train``
in ``seg/mmseg/models/uda/dacs.py``) trains the student on masked target
images against the teacher's pseudo-labels. With the settings of the
published MIC(HRDA) and MIC(DAFormer) runs (``mask_mode='separatetrgaug'``,
``mask_alpha='same'``, ``mask_pseudo_threshold='same'``):

1. the pseudo-labels and pixel weights are those the DACS step made for the
   target images (the teacher's argmax and the fraction of confident
   pixels, after the pseudo-label crop), before ClassMix;
2. the target images (not the mixed ones) get DACS's colour jitter and blur
   with DACS's strength and probabilities, drawn once for the batch (the
   jitter factors and the blur's sigma per image: the original draws one
   sigma for MIC's batch, and blurs with probability 0.5 even when DACS's
   ``blur`` is off; with DAFormer's ``blur=True`` only the sigma differs);
3. random blocks of them are zeroed (:class:`~mmseg_uda.models.utils.
   masking_transforms.BlockMaskGenerator`);
4. the student's pixel-weighted CE on the masked images, the main level's
   loss times ``mask_lambda``, is backed on its own.

Only this mode is implemented; the original's other modes (masking source
images, separate EMA teacher for MIC with its own alpha or threshold) are
refused when the model is built.
"""
from typing import Callable, Dict, Mapping, Optional

import torch
from torch import Tensor

from ...utils.number_checks import check_weight
from ..utils.masking_transforms import build_mask_generator

#: The option's keys, with MIC's values (seg/configs/mic/
#: gtaHR2csHR_mic_hrda.py) as defaults.
MIC_DEFAULTS = dict(
    mask_mode='separatetrgaug',
    mask_alpha='same',
    mask_pseudo_threshold='same',
    mask_lambda=1,
    mask_generator=dict(type='block', mask_ratio=0.7, mask_block_size=64))


class MaskedConsistency:
    """The masked images and the weighting of MIC's loss.

    Args:
        mask_mode (str): Which images are masked; only
            ``'separatetrgaug'`` (the colour-augmented target images).
        mask_alpha (str): EMA momentum of MIC's teacher; only ``'same'``
            (the DACS teacher).
        mask_pseudo_threshold (str): Confidence threshold of MIC's
            pseudo-labels; only ``'same'`` (DACS's, and its weight).
        mask_lambda (float): Weight of the masked loss of the main level.
            Defaults to 1 (MIC).
        mask_generator (dict): Config of the mask generator, e.g.
            ``dict(type='block', mask_ratio=0.7, mask_block_size=64)``.
    """

    MASK_MODES = ('separatetrgaug', )

    def __init__(self,
                 mask_mode: str = MIC_DEFAULTS['mask_mode'],
                 mask_alpha: str = MIC_DEFAULTS['mask_alpha'],
                 mask_pseudo_threshold: str = MIC_DEFAULTS[
                     'mask_pseudo_threshold'],
                 mask_lambda: float = MIC_DEFAULTS['mask_lambda'],
                 mask_generator: Optional[Mapping] = None) -> None:
        if mask_mode not in self.MASK_MODES:
            raise ValueError(
                f'mask_consistency.mask_mode must be one of {self.MASK_MODES}'
                f' (colour-augmented target images), got {mask_mode!r}')
        for name, value in (('mask_alpha', mask_alpha),
                            ('mask_pseudo_threshold', mask_pseudo_threshold)):
            if value != 'same':
                raise ValueError(
                    f"mask_consistency.{name} must be 'same' (MIC shares the "
                    "DACS teacher's pseudo-labels; a separate teacher for MIC"
                    f' is not implemented), got {value!r}')
        self.mask_mode = mask_mode
        self.mask_lambda = check_weight(mask_lambda,
                                        'mask_consistency.mask_lambda')
        if mask_generator is None:
            mask_generator = MIC_DEFAULTS['mask_generator']
        try:
            self.mask_gen = build_mask_generator(mask_generator)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f'mask_consistency: {exc}') from exc

    def masked_images(self,
                      images: Tensor,
                      augment: Callable[[Tensor], Tensor],
                      generator: Optional[torch.Generator] = None) -> Tensor:
        """The colour-augmented, block-masked target images.

        Args:
            images (Tensor): Preprocessed target images (N, 3, H, W).
            augment (callable): DACS's colour jitter and blur of a batch.
            generator (torch.Generator, optional): Source of the mask's
                draws.

        Returns:
            Tensor: The masked images (no gradient flows to ``images``).
        """
        return self.mask_gen.mask_image(augment(images.detach()), generator)

    def weight_losses(self, losses: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Scale the main level's loss terms by ``mask_lambda``.

        The original scales the decode head's loss only
        (``masked_loss['decode.loss_seg'] *= mask_lambda``), so the other
        levels keep their own weights.

        Args:
            losses (dict[str, Tensor]): ``'<level>.<name>'`` terms of
                :meth:`UDAEncoderDecoder.loss_by_levels`.

        Returns:
            dict[str, Tensor]: The terms, main-level losses scaled.
        """
        if self.mask_lambda == 1:
            return losses
        return {
            key: value * self.mask_lambda
            if key.startswith('main.') and 'loss' in key else value
            for key, value in losses.items()
        }


def build_masked_consistency(
        cfg: Optional[Mapping]) -> Optional[MaskedConsistency]:
    """Build the ``mask_consistency`` option of DACS (None: off).

    Raises:
        TypeError: If ``cfg`` is not a dict or holds an unknown key.
        ValueError: If a value is refused (the message names it).
    """
    if cfg is None:
        return None
    if not isinstance(cfg, Mapping):
        raise TypeError('mask_consistency must be a dict of MIC options '
                        f'(keys {sorted(MIC_DEFAULTS)}) or None, got {cfg!r}')
    unknown = sorted(set(cfg) - set(MIC_DEFAULTS))
    if unknown:
        raise TypeError(f'mask_consistency: unknown key(s) {unknown}; valid '
                        f'keys: {sorted(MIC_DEFAULTS)}')
    return MaskedConsistency(**cfg)
