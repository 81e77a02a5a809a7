"""Load a target image's pseudo-label map from a label directory."""
import os.path as osp
from typing import Optional

from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS

from ..ranking_dir import LABEL_SUFFIX, image_key


@TRANSFORMS.register_module()
class LoadPseudoLabels(LoadAnnotations):
    """mmseg's ``LoadAnnotations`` reading pseudo-labels by image name.

    The label of ``.../<city>/<stem><img_suffix>`` is
    ``<label_dir>/<city>/<stem><seg_map_suffix>``, the layout written by
    ``tools/gen_pseudo_labels.py`` and ``tools/rank_targets.py``. The path is
    resolved when the sample is loaded, so a ``label_dir`` that is a link
    switched by :class:`~mmseg_uda.engine.hooks.PseudoLabelRoundsHook` takes
    effect in running dataloader workers without rebuilding them.

    Args:
        label_dir (str): Directory of the pseudo-labels.
        optional (bool): When True and ``label_dir`` does not exist (yet),
            samples carry no label map (no self-training loss); a missing
            label file inside an existing ``label_dir`` is always an error.
            Defaults to False.
        img_suffix (str): Suffix of the image files.
        seg_map_suffix (str): Suffix of the label files.
        **kwargs: ``LoadAnnotations`` arguments (``imdecode_backend``...).
    """

    def __init__(self,
                 label_dir: str,
                 optional: bool = False,
                 img_suffix: str = '_leftImg8bit.png',
                 seg_map_suffix: str = LABEL_SUFFIX,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.label_dir = label_dir
        self.optional = optional
        self.img_suffix = img_suffix
        self.seg_map_suffix = seg_map_suffix

    def label_path(self, img_path: str) -> Optional[str]:
        """Pseudo-label path of ``img_path``; None if optional and absent.

        Raises:
            FileNotFoundError: If the label directory or file is missing
                (the directory only when not ``optional``).
        """
        if not osp.isdir(self.label_dir):
            if self.optional:
                return None
            raise FileNotFoundError(
                f'pseudo-label directory not found: {self.label_dir} '
                '(make it with tools/gen_pseudo_labels.py)')
        path = osp.join(self.label_dir, image_key(img_path, self.img_suffix)
                        + self.seg_map_suffix)
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'no pseudo-label for {img_path}: {path} is missing')
        return path

    def transform(self, results: dict) -> dict:
        """Load the pseudo-label map of ``results['img_path']`` if any."""
        path = self.label_path(results['img_path'])
        if path is None:
            return results
        results['seg_map_path'] = path
        results.setdefault('seg_fields', [])
        results.setdefault('reduce_zero_label', False)
        return super().transform(results)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(label_dir={self.label_dir!r}, '
                f'optional={self.optional})')
