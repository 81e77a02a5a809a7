"""GTA5 source dataset (synthetic driving scenes with Cityscapes classes)."""
import copy

from mmseg.datasets import BaseSegDataset, CityscapesDataset
from mmseg.registry import DATASETS

from .checked_dataset import CheckedDatasetMixin


@DATASETS.register_module()
class GTAVDataset(CheckedDatasetMixin, BaseSegDataset):
    """GTA5 dataset with labels converted to the 19 Cityscapes trainIds.

    Expected layout (labels produced by ``tools/dataset_converters/gta.py``)::

        data_root/
        ├── images/00001.png
        └── labels/00001.png                (Cityscapes labelIds)
                   00001_labelTrainIds.png  (converted trainIds)

    Missing directories, images without a label file and label files without
    an image raise :class:`FileNotFoundError` when the data list is loaded.

    Args:
        img_suffix (str): Suffix of images. Defaults to ``'.png'``.
        seg_map_suffix (str): Suffix of label files.
            Defaults to ``'_labelTrainIds.png'``.
        data_prefix (dict): Image and label directories relative to
            ``data_root``. Defaults to ``dict(img_path='images',
            seg_map_path='labels')``.
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset`.
    """

    METAINFO = copy.deepcopy(CityscapesDataset.METAINFO)
    LABEL_HINT = ('Run `python tools/dataset_converters/gta.py DATA_ROOT` to '
                  'generate the *_labelTrainIds.png files.')

    def __init__(self,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '_labelTrainIds.png',
                 data_prefix: dict = dict(
                     img_path='images', seg_map_path='labels'),
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            data_prefix=data_prefix,
            **kwargs)
