"""HRDA's pseudo-label margins: a mask of the image sides not to trust.

HRDA (lhoyer/MIC ``seg/mmseg/datasets/cityscapes.py``,
``CityscapesDataset.pre_pipeline`` with ``crop_pseudo_margins``) marks fixed
margins of the full target image as untrusted *before* the training crop, so
that a margin is masked only where the crop touches the image's border
(unlike DAFormer's row crop of every training crop). The mask travels with
the image through the pipeline, is passed on by ``uda_dataset.py`` and
collected by ``pipelines/formating.py``, and ``DACS`` multiplies the
pseudo-label weight by it (``filter_valid_pseudo_region`` in
``seg/mmseg/models/uda/dacs.py``).
"""
import numbers
from typing import Optional, Sequence

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform, to_tensor
from mmengine.structures import PixelData
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

#: The results key, seg field and data sample field of the mask.
MASK_KEY = 'valid_pseudo_mask'


def check_margins(margins: Sequence[int]) -> tuple:
    """Check HRDA's ``margins`` option: four pixel counts.

    Args:
        margins (Sequence[int]): Top, bottom, left and right margins.

    Returns:
        tuple: The four margins as ints.

    Raises:
        ValueError: If ``margins`` is not a list or tuple of four
            non-negative integers (the message names ``margins``).
    """
    if not isinstance(margins, (list, tuple)) or len(margins) != 4 or not \
            all(isinstance(m, numbers.Integral) and not isinstance(m, bool)
                and m >= 0 for m in margins):
        raise ValueError(
            'margins must be four integers >= 0 (top, bottom, left, right, '
            f'in pixels of the resized image), got {margins!r}')
    return tuple(int(m) for m in margins)


@TRANSFORMS.register_module()
class PseudoLabelMargins(BaseTransform):
    """Add HRDA's ``valid_pseudo_mask``: 0 in the margins of the image, 1
    elsewhere, cropped with the image by a later ``RandomCrop``.

    Place it in the target training pipeline after ``Resize`` and
    ``RandomFlip`` and before ``RandomCrop``, and pack with
    :class:`PackUDASegInputs`::

        dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PseudoLabelMargins', margins=[30, 240, 30, 30]),
        dict(type='RandomCrop', crop_size=(1024, 1024)),
        dict(type='PackUDASegInputs'),

    The mask is made at the size of the image as it is at this step,
    flipped as the image was if a ``RandomFlip`` came before
    (``results['flip_direction']``, so that each margin stays on its side
    of the original image: the top margin on the sky side, the bottom one on
    the ego-vehicle side), and registered in ``results['seg_fields']``, so
    that ``RandomCrop`` crops it with the image. mmseg's ``Resize`` and
    ``RandomFlip`` (the ones ``type='Resize'``/``'RandomFlip'`` build in
    mmseg's scope) also transform every seg field, so the step may as well
    come before them; mmcv's own ``mmcv.Resize``/``mmcv.RandomFlip``
    transform only ``gt_seg_map``: before those it must not come
    (:class:`PackUDASegInputs` refuses a mask whose size is not the
    image's).

    HRDA's loader resizes, crops, then flips (lhoyer/MIC
    ``seg/configs/_base_/datasets/uda_gtaHR_to_cityscapesHR_1024x1024.py``);
    in the pipeline above the flip comes before the crop. The two orders
    give the same distribution of crops: ``RandomCrop`` draws the offset
    uniformly, and a flip maps each offset to its mirror image in the same
    range, so the mask of every flipped crop is as likely either way.
    HRDA's mask has the fixed size ``[1024, 2048]`` of Cityscapes images
    (which its Resize to 2048x1024 leaves unchanged); this one takes the
    image's size at this step (the resized image above), so the margins are
    in its pixels for any target dataset.

    Required keys: ``img``. Optional: ``flip``, ``flip_direction``,
    ``seg_fields``.

    Added keys: ``valid_pseudo_mask`` (uint8, (H, W)). Modified keys:
    ``seg_fields``.

    Args:
        margins (Sequence[int]): Margins in pixels of the resized image:
            top, bottom, left, right. HRDA: ``[30, 240, 30, 30]``
            (``crop_pseudo_margins`` of lhoyer/MIC
            ``seg/configs/hrda/gtaHR2csHR_hrda.py``).
    """

    def __init__(self, margins: Sequence[int]) -> None:
        self.margins = check_margins(margins)

    def transform(self, results: dict) -> dict:
        """Add the mask of the (resized, flipped) image.

        Args:
            results (dict): Result dict with ``img``.

        Returns:
            dict: ``results`` with ``valid_pseudo_mask`` and the key added
            to ``seg_fields``.
        """
        height, width = results['img'].shape[:2]
        top, bottom, left, right = self.margins
        mask = np.zeros((height, width), dtype=np.uint8)
        # explicit ends: a margin of 0 must not become the slice [-0:]
        mask[top:max(height - bottom, 0), left:max(width - right, 0)] = 1
        if results.get('flip', False):
            mask = mmcv.imflip(mask, direction=results['flip_direction'])
        results[MASK_KEY] = np.ascontiguousarray(mask)
        seg_fields = results.setdefault('seg_fields', [])
        if MASK_KEY not in seg_fields:
            seg_fields.append(MASK_KEY)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(margins={list(self.margins)})'


@TRANSFORMS.register_module()
class PackUDASegInputs(PackSegInputs):
    """:class:`~mmseg.datasets.transforms.PackSegInputs` that also packs
    the ``valid_pseudo_mask`` of :class:`PseudoLabelMargins`.

    Without that key it packs exactly as ``PackSegInputs``. With it, the
    data sample gets ``valid_pseudo_mask``, a ``PixelData`` whose ``data``
    is the mask as a uint8 tensor of shape (1, H, W) (HRDA's
    ``pipelines/formating.py`` collects it as ``mask[None]``).

    Args:
        meta_keys (Sequence[str], optional): As for ``PackSegInputs``.
    """

    def transform(self, results: dict) -> dict:
        """Pack the inputs, the labels and the mask.

        Args:
            results (dict): Result dict from the data pipeline.

        Returns:
            dict: ``inputs`` and ``data_samples`` as ``PackSegInputs``
            makes them, the mask in ``data_samples.valid_pseudo_mask``.

        Raises:
            ValueError: If the mask's size is not the image's (a transform
                that changes the image's geometry came after
                ``PseudoLabelMargins``).
        """
        packed = super().transform(results)
        mask: Optional[np.ndarray] = results.get(MASK_KEY)
        if mask is not None:
            if mask.shape != results['img'].shape[:2]:
                raise ValueError(
                    f'{MASK_KEY} has the size {mask.shape} but the image '
                    f"{results['img'].shape[:2]}: put PseudoLabelMargins "
                    'after Resize and RandomFlip (it is cropped with the '
                    'image by RandomCrop)')
            packed['data_samples'].set_data({
                MASK_KEY:
                PixelData(data=to_tensor(np.ascontiguousarray(mask[None])))
            })
        return packed
