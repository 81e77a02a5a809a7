"""Random block masks of MIC (masked image consistency).

MIC (lhoyer/MIC ``seg/mmseg/models/utils/masking_transforms.py``,
``BlockMaskGenerator``) hides random square blocks of an image: one
``U(0, 1)`` draw per block of a coarse grid of ``round(H / b)`` x
``round(W / b)`` cells (``b`` = ``mask_block_size``), the cell is kept
(1) when the draw is ``> mask_ratio`` and masked (0) otherwise, then the
grid is upsampled to the image size with nearest-neighbour interpolation
and multiplied onto the image. So about ``mask_ratio`` of the blocks are
zeroed (in the normalised image space, as the original does), and the mask
is constant on ``b`` x ``b`` blocks when ``b`` divides the image size.
"""
from typing import Mapping, Optional, Tuple

import torch
from mmseg.models.utils import resize
from torch import Tensor

from ...utils.number_checks import check_number


def block_draws(shape: Tuple[int, ...],
                generator: Optional[torch.Generator] = None) -> Tensor:
    """``U(0, 1)`` draws of the mask's blocks, from ``generator`` (on its
    device) or the global CPU generator."""
    device = generator.device if generator is not None else 'cpu'
    return torch.rand(shape, generator=generator, device=device)


class BlockMaskGenerator:
    """Masks of random ``mask_block_size`` blocks, a ``mask_ratio`` share
    of them masked.

    Args:
        mask_ratio (float): Probability that a block is masked, in [0, 1]
            (MIC: 0.7).
        mask_block_size (int): Side of the square blocks in pixels
            (MIC: 64).
    """

    def __init__(self, mask_ratio: float, mask_block_size: int) -> None:
        self.mask_ratio = check_number(mask_ratio, 'mask_ratio', low=0,
                                       high=1)
        if isinstance(mask_block_size, bool) or \
                not isinstance(mask_block_size, int) or mask_block_size < 1:
            raise ValueError('mask_block_size must be an integer >= 1 (pixels)'
                             f', got {mask_block_size!r}')
        self.mask_block_size = mask_block_size

    def grid_shape(self, height: int, width: int) -> Tuple[int, int]:
        """The number of blocks along each side: ``round(H / b)``,
        ``round(W / b)`` (Python's rounding, as the original).

        Raises:
            ValueError: If the image is too small for one block.
        """
        rows = round(height / self.mask_block_size)
        cols = round(width / self.mask_block_size)
        if rows < 1 or cols < 1:
            raise ValueError(
                f'images of size {height}x{width} are too small for '
                f'mask_block_size={self.mask_block_size} (fewer than one '
                'block per side)')
        return rows, cols

    @torch.no_grad()
    def generate_mask(self,
                      imgs: Tensor,
                      generator: Optional[torch.Generator] = None) -> Tensor:
        """A random block mask for each image.

        Args:
            imgs (Tensor): Images (N, C, H, W); only the shape, dtype and
                device are used.
            generator (torch.Generator, optional): Source of the draws
                (on its own device); the global CPU generator by default,
                as the other random draws of the DACS step.

        Returns:
            Tensor: Masks (N, 1, H, W) of 0 (masked) and 1 (kept), in the
            images' dtype and device.
        """
        num, _, height, width = imgs.shape
        rows, cols = self.grid_shape(height, width)
        draws = block_draws((num, 1, rows, cols), generator)
        grid = (draws > self.mask_ratio).to(imgs)
        return resize(grid, size=(height, width), mode='nearest')

    @torch.no_grad()
    def mask_image(self,
                   imgs: Tensor,
                   generator: Optional[torch.Generator] = None) -> Tensor:
        """The images with their masked blocks set to 0.

        Args:
            imgs (Tensor): Images (N, C, H, W), normalised.
            generator (torch.Generator, optional): See
                :meth:`generate_mask`.

        Returns:
            Tensor: ``imgs * mask``.
        """
        return imgs * self.generate_mask(imgs, generator)


#: Mask generators by the ``type`` of their config.
MASK_GENERATORS = dict(block=BlockMaskGenerator)


def build_mask_generator(cfg: Mapping) -> BlockMaskGenerator:
    """Build a mask generator from ``dict(type='block', ...)``.

    Args:
        cfg (Mapping): ``type`` (``'block'``) and the generator's arguments.

    Returns:
        BlockMaskGenerator: The generator.

    Raises:
        TypeError: If ``cfg`` is not a dict with a ``type``, or holds keys
            the generator does not take.
        ValueError: If the type is unknown or a value is refused.
    """
    if not isinstance(cfg, Mapping) or 'type' not in cfg:
        raise TypeError('mask_generator must be a dict with a type, e.g. '
                        "dict(type='block', mask_ratio=0.7, "
                        f'mask_block_size=64), got {cfg!r}')
    cfg = dict(cfg)
    kind = cfg.pop('type')
    if kind not in MASK_GENERATORS:
        raise ValueError(f'mask_generator type must be one of '
                         f'{sorted(MASK_GENERATORS)}, got {kind!r}')
    try:
        return MASK_GENERATORS[kind](**cfg)
    except TypeError as exc:
        raise TypeError(f'mask_generator: {exc}') from exc
