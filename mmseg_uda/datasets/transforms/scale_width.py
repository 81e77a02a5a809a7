"""CycleGAN's ``scale_width``: resize to a width, height truncated."""
from mmcv.transforms import Resize
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ScaleWidth(Resize):
    """Resize an image (and its label map) to ``width`` keeping the aspect.

    The height is ``width * h // w``, truncated as CycleGAN's
    ``__scale_width`` computes it (``int(target_width * oh / ow)``, under
    BDL's Python 2 an integer division): a 1914x1052 GTA5 frame becomes
    1024x562, where a keep-ratio ``Resize`` rounds to 1024x563. Images are
    resized with PIL's bicubic filter by default (CycleGAN's
    ``Image.BICUBIC``); label maps, if any, with nearest.

    Args:
        width (int): Target width (CycleGAN's ``--loadSize``).
        interpolation (str): Image interpolation. Defaults to 'bicubic'.
        backend (str): Resize backend. Defaults to 'pillow'.
    """

    def __init__(self,
                 width: int,
                 interpolation: str = 'bicubic',
                 backend: str = 'pillow') -> None:
        if not isinstance(width, int) or width < 1:
            raise ValueError(f'width must be a positive int, got {width!r}')
        super().__init__(
            scale=(width, width),
            keep_ratio=False,
            interpolation=interpolation,
            backend=backend)
        self.width = width

    def transform(self, results: dict) -> dict:
        """Resize to ``(width, width * h // w)``.

        Args:
            results (dict): Result dict with ``img``.

        Returns:
            dict: ``img``, ``img_shape``, ``scale``, ``scale_factor`` and any
            ``gt_seg_map`` updated.
        """
        height, width = results['img'].shape[:2]
        results['scale'] = (self.width, self.width * height // width)
        self._resize_img(results)
        self._resize_bboxes(results)
        self._resize_seg(results)
        self._resize_keypoints(results)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(width={self.width}, '
                f'interpolation={self.interpolation}, '
                f'backend={self.backend})')
