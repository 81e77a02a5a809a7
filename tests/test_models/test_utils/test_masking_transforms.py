"""MIC's block mask generator against its re-statement
(tests/reference/mic.py, from lhoyer/MIC
seg/mmseg/models/utils/masking_transforms.py): the same masks from the
same draws, the block size, the masked share and refused settings."""
import pytest
import torch

from mmseg_uda.models.utils import masking_transforms
from mmseg_uda.models.utils.masking_transforms import (BlockMaskGenerator,
                                                       build_mask_generator)
from tests.reference.mic import block_grid_shape, block_mask, mask_image

# MIC's mask (seg/configs/mic/gtaHR2csHR_mic_hrda.py)
RATIO, BLOCK = 0.7, 64


def _same_draws(seed: int, num: int, height: int, width: int,
                block: int = BLOCK) -> torch.Tensor:
    """The draws a generator seeded with ``seed`` gives the mask of
    ``num`` images, drawn here independently of the code under test."""
    rows, cols = block_grid_shape(height, width, block)
    return torch.rand((num, 1, rows, cols),
                      generator=torch.Generator().manual_seed(seed))


def test_masks_are_the_restatements_on_the_same_draws():
    gen = BlockMaskGenerator(RATIO, BLOCK)
    # 512x512 (DAFormer's crop, 8x8 blocks), HRDA's 1024 crop, a size
    # the blocks do not divide (round(520 / 64) = 8, round(500 / 64) = 8)
    for height, width in ((512, 512), (1024, 1024), (520, 500)):
        imgs = torch.randn(2, 3, height, width)
        masks = gen.generate_mask(imgs, torch.Generator().manual_seed(4))
        expected = block_mask(_same_draws(4, 2, height, width), RATIO,
                              height, width)
        assert masks.shape == (2, 1, height, width)
        assert masks.dtype == imgs.dtype
        assert torch.equal(masks, expected)
        masked = gen.mask_image(imgs, torch.Generator().manual_seed(4))
        assert torch.equal(masked, mask_image(
            imgs, _same_draws(4, 2, height, width), RATIO))


def test_masks_are_constant_on_64x64_blocks_with_a_masked_share_of_0_7():
    gen = BlockMaskGenerator(RATIO, BLOCK)
    imgs = torch.zeros(64, 3, 512, 512)
    masks = gen.generate_mask(imgs, torch.Generator().manual_seed(0))
    assert set(masks.unique().tolist()) == {0.0, 1.0}
    blocks = masks.view(64, 8, BLOCK, 8, BLOCK)
    # every 64x64 block is all 0 or all 1
    assert torch.equal(blocks.amin(dim=(2, 4)), blocks.amax(dim=(2, 4)))
    # 64 * 64 = 4096 blocks: the share's standard deviation is ~0.007
    masked_share = 1 - masks.mean().item()
    assert masked_share == pytest.approx(RATIO, abs=0.03)
    draws = _same_draws(0, 64, 512, 512)
    assert masked_share == pytest.approx((draws <= RATIO).float().mean())
    # neighbouring blocks differ: the blocks are 64 pixels, not larger
    assert (blocks[:, :-1, 0, :, 0] != blocks[:, 1:, 0, :, 0]).any()
    assert (blocks[:, :, 0, :-1, 0] != blocks[:, :, 0, 1:, 0]).any()


def test_masked_pixels_are_zero_and_kept_ones_untouched():
    gen = BlockMaskGenerator(0.5, 8)
    imgs = torch.randn(3, 3, 32, 40) + 10.0  # no zero pixel of its own
    masked = gen.mask_image(imgs, torch.Generator().manual_seed(2))
    zero = masked == 0
    assert zero.any() and not zero.all()
    # a pixel is masked in all channels or none
    assert torch.equal(zero.all(dim=1), zero.any(dim=1))
    assert torch.equal(masked[~zero], imgs[~zero])


def test_global_rng_is_used_without_a_generator():
    gen = BlockMaskGenerator(RATIO, 8)
    imgs = torch.zeros(2, 3, 32, 32)
    torch.manual_seed(7)
    first = gen.generate_mask(imgs)
    torch.manual_seed(7)
    assert torch.equal(gen.generate_mask(imgs), first)
    torch.manual_seed(7)
    assert torch.equal(first, block_mask(torch.rand(2, 1, 4, 4), RATIO,
                                         32, 32))


def test_ratio_0_keeps_and_ratio_1_masks_everything():
    imgs = torch.ones(2, 3, 16, 16)
    assert torch.equal(BlockMaskGenerator(0.0, 4).mask_image(imgs), imgs)
    assert not BlockMaskGenerator(1.0, 4).mask_image(imgs).any()


def test_draws_go_through_block_draws(monkeypatch):
    """The step tests feed the draws they see here to the re-statement."""
    seen = []
    real = masking_transforms.block_draws

    def spy(shape, generator=None):
        seen.append(real(shape, generator))
        return seen[-1]

    monkeypatch.setattr(masking_transforms, 'block_draws', spy)
    imgs = torch.randn(2, 3, 24, 40)
    masks = BlockMaskGenerator(RATIO, 8).generate_mask(imgs)
    assert seen[0].shape == (2, 1, 3, 5)
    assert torch.equal(masks, block_mask(seen[0], RATIO, 24, 40))


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match='mask_ratio'):
        BlockMaskGenerator(1.5, 64)
    with pytest.raises(TypeError, match='mask_ratio'):
        BlockMaskGenerator('0.7', 64)
    for bad in (0, -64, 6.4, True):
        with pytest.raises(ValueError, match='mask_block_size'):
            BlockMaskGenerator(RATIO, bad)
    # fewer than one block per side (round(31 / 64) = 0)
    with pytest.raises(ValueError, match='too small.*mask_block_size=64'):
        BlockMaskGenerator(RATIO, 64).generate_mask(torch.zeros(1, 3, 31, 512))
    with pytest.raises(ValueError, match="type must be one of \\['block'\\]"):
        build_mask_generator(dict(type='random', mask_ratio=RATIO))
    with pytest.raises(TypeError, match='mask_generator must be a dict'):
        build_mask_generator(dict(mask_ratio=RATIO, mask_block_size=64))
    with pytest.raises(TypeError, match='mask_generator: .*mask_size'):
        build_mask_generator(dict(type='block', mask_ratio=RATIO,
                                  mask_size=64))
    cfg = dict(type='block', mask_ratio=RATIO, mask_block_size=BLOCK)
    gen = build_mask_generator(cfg)
    assert (gen.mask_ratio, gen.mask_block_size) == (RATIO, BLOCK)
    assert cfg['type'] == 'block'  # the config is not consumed
