"""CycleGAN's history of generated images for the discriminators."""
from typing import Any, Dict, List, Optional

import torch
import torch.nn as nn
from torch import Tensor


def cpu_rng_state(state: Any, name: str = 'generator state') -> Tensor:
    """A state for ``torch.Generator.set_state``: a contiguous CPU copy.

    A checkpoint loaded with a CUDA ``map_location`` holds the state as a
    CUDA tensor, which ``set_state`` refuses.

    Args:
        state (Any): The saved state (a uint8 tensor on any device).
        name (str): What the state is, for the error message.

    Returns:
        Tensor: The state as a contiguous uint8 CPU tensor.

    Raises:
        TypeError: If ``state`` is not a uint8 tensor.
    """
    if not isinstance(state, Tensor) or state.dtype != torch.uint8:
        kind = state.dtype if isinstance(state, Tensor) else type(state)
        raise TypeError(f'{name} must be a uint8 tensor (as '
                        f'torch.Generator.get_state returns), got {kind}')
    return state.detach().cpu().contiguous()


class ImagePool(nn.Module):
    """A buffer of up to ``pool_size`` earlier fakes (Shrivastava et al.).

    :meth:`query` takes a batch of fakes and returns a batch of the same
    size: while the pool is not full every image is stored and returned;
    then each image, with probability 1/2, is swapped with a random stored
    one (the stored one is returned), otherwise it is returned as is. A
    pool size of 0 returns the input. Images are stored detached.

    **Reproducibility and resume.** The draws come from the pool's own
    ``torch.Generator`` (seeded with ``seed``, by default with
    ``torch.initial_seed()`` at construction, which mmengine's
    ``randomness.seed`` sets before the model is built), not from Python's
    global ``random``, so a run is repeatable and the draws do not depend
    on other code using ``random``. The generator state and the number of
    images seen are part of the module's ``state_dict`` (as extra state),
    so a resumed run continues the same stream. The stored images
    themselves are only saved with ``save_images=True`` (50 crops of
    452x452 are about 120 MB per pool); otherwise a resumed run starts from
    an empty pool, exactly as at the start of training, and only its first
    ``pool_size`` discriminator batches differ from an uninterrupted run.

    Args:
        pool_size (int): Stored images (CycleGAN: 50). 0 disables the pool.
        seed (int, optional): Seed of the pool's generator.
        save_images (bool): Keep the stored images in the state dict.
    """

    def __init__(self,
                 pool_size: int = 50,
                 seed: Optional[int] = None,
                 save_images: bool = False) -> None:
        super().__init__()
        if pool_size < 0:
            raise ValueError(f'pool_size must be >= 0, got {pool_size}')
        self.pool_size = pool_size
        self.save_images = save_images
        self.images: List[Tensor] = []
        self.generator = torch.Generator()
        self.generator.manual_seed(
            torch.initial_seed() if seed is None else seed)

    def _uniform(self) -> float:
        return torch.rand((), generator=self.generator).item()

    def _index(self) -> int:
        return int(torch.randint(self.pool_size, (), generator=self.generator))

    @torch.no_grad()
    def query(self, images: Tensor) -> Tensor:
        """Return a batch of fakes for the discriminator.

        Args:
            images (Tensor): Newly generated images, shape (N, C, H, W).

        Returns:
            Tensor: Detached images of the same shape, mixed with the pool.
        """
        if self.pool_size == 0:
            return images.detach()
        returned = []
        for image in images.detach():
            if len(self.images) < self.pool_size:
                self.images.append(image.clone())
                returned.append(image)
            elif self._uniform() > 0.5:
                idx = self._index()
                returned.append(self.images[idx])
                self.images[idx] = image.clone()
            else:
                returned.append(image)
        return torch.stack(returned).to(images.device)

    def get_extra_state(self) -> Dict[str, Any]:
        """The generator state (and the images if ``save_images``)."""
        state = dict(generator=self.generator.get_state(),
                     num_images=len(self.images))
        if self.save_images:
            state['images'] = [img.cpu() for img in self.images]
        return state

    def set_extra_state(self, state: Dict[str, Any]) -> None:
        """Restore the generator state (and the images when saved), from
        a state dict loaded onto any device."""
        self.generator.set_state(
            cpu_rng_state(state['generator'], 'ImagePool generator state'))
        self.images = [img.clone() for img in state.get('images', [])]

    def extra_repr(self) -> str:
        return f'pool_size={self.pool_size}, stored={len(self.images)}'
