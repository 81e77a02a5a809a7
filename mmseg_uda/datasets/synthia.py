"""SYNTHIA-RAND-CITYSCAPES source dataset."""
import copy

from mmseg.datasets import BaseSegDataset, CityscapesDataset
from mmseg.registry import DATASETS

from .checked_dataset import CheckedDatasetMixin


@DATASETS.register_module()
class SynthiaDataset(CheckedDatasetMixin, BaseSegDataset):
    """SYNTHIA-RAND-CITYSCAPES with labels converted to Cityscapes trainIds.

    The 19 Cityscapes classes are kept (terrain, truck and train never occur);
    evaluate mIoU16/mIoU13 with
    :class:`mmseg_uda.evaluation.SubsetIoUMetric`. Expected layout (labels
    produced by ``tools/dataset_converters/synthia.py``)::

        data_root/
        ├── RGB/0000001.png
        └── GT/LABELS/0000001.png                  (original 16-bit ids)
                      0000001_labelTrainIds.png    (converted trainIds)

    Missing directories, images without a label file and label files without
    an image raise :class:`FileNotFoundError` when the data list is loaded.

    Args:
        img_suffix (str): Suffix of images. Defaults to ``'.png'``.
        seg_map_suffix (str): Suffix of label files.
            Defaults to ``'_labelTrainIds.png'``.
        data_prefix (dict): Image and label directories relative to
            ``data_root``. Defaults to ``dict(img_path='RGB',
            seg_map_path='GT/LABELS')``.
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset`.
    """

    METAINFO = copy.deepcopy(CityscapesDataset.METAINFO)
    LABEL_HINT = ('Run `python tools/dataset_converters/synthia.py DATA_ROOT` '
                  'to generate the *_labelTrainIds.png files.')

    def __init__(self,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '_labelTrainIds.png',
                 data_prefix: dict = dict(
                     img_path='RGB', seg_map_path='GT/LABELS'),
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            data_prefix=data_prefix,
            **kwargs)
