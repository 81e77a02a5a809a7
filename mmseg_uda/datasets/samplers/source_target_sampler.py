"""Infinite sampler drawing source and target samples independently."""
import itertools
from typing import Iterator, Optional, Sized, Union

import numpy as np
import torch
from mmengine.dist import get_dist_info, sync_random_seed
from mmseg.registry import DATA_SAMPLERS
from torch.utils.data import Sampler

from ..rare_class_sampling import RareClassIndex

# Mixed into the seed of the target stream so that it differs from the
# source stream (which uses the seed itself) for every seed.
_TARGET_STREAM_KEY = 0x5D7A6E7


def target_stream_seed(seed: int) -> int:
    """Seed of the target stream derived from the sampler's seed.

    Args:
        seed (int): The sampler's seed (the source stream's seed).

    Returns:
        int: A 63-bit seed, decorrelated from ``seed`` by a hash.
    """
    seq = np.random.SeedSequence([seed % 2**64, _TARGET_STREAM_KEY])
    return int(seq.generate_state(1, np.uint64)[0] >> np.uint64(1))


def _rare_class_draws(rcs, seed: int) -> Iterator[tuple]:
    """Endless ``(class, source index)`` draws of rare class sampling."""
    generator = torch.Generator()
    generator.manual_seed(seed)
    while True:
        yield rcs.draw(generator)


def _endless(size: int, shuffle: bool, seed: int) -> Iterator[int]:
    """Endless sequence of permutations (or ranges) of ``range(size)``."""
    generator = torch.Generator()
    generator.manual_seed(seed)
    while True:
        if shuffle:
            yield from torch.randperm(size, generator=generator).tolist()
        else:
            yield from range(size)


@DATA_SAMPLERS.register_module()
class SourceTargetSampler(Sampler):
    """Infinite sampler for :class:`SourceTargetDataset`.

    The source indices are an endless sequence of permutations of
    ``range(len(source))`` drawn from a generator seeded ``seed`` (the same
    stream as mmengine's ``InfiniteSampler`` gives for the source dataset
    alone); the target indices are an endless sequence of permutations of
    ``range(len(target))`` from a generator seeded
    :func:`target_stream_seed` ``(seed)``. The two streams are zipped and the
    sampler yields the combined index ``s * len(target) + t``. Each domain is
    therefore seen once per its own epoch, whatever the two sizes, and which
    target image is paired with a source image changes from epoch to epoch.
    Memory is ``O(len(source) + len(target))``.

    Under distributed training every rank builds the same two streams and
    takes the pairs ``rank, rank + world_size, ...``, so ranks see different
    samples. The sequence depends only on the seed, rank and world size:
    mmengine's ``IterBasedTrainLoop`` resumes by re-drawing the batches
    already consumed, which reproduces the position exactly.

    When the dataset has rare class sampling on (its
    ``rare_class_sampling`` attribute is not None), the source stream is
    made of RCS draws ``(class, source index)`` from a generator seeded
    ``seed`` instead of permutations, and the sampler yields
    :class:`~mmseg_uda.datasets.rare_class_sampling.RareClassIndex` items
    (source, target, class); the dataset re-crops the source sample until it
    keeps the class. The target side stays the permutation stream above,
    whereas DAFormer draws the target image uniformly at random with
    replacement for every sample; both see each target image equally often
    on average. Ranks, seeds and resume behave as without RCS.

    Args:
        dataset (Sized): A :class:`SourceTargetDataset` (anything with
            sized ``source`` and ``target`` attributes).
        shuffle (bool): Whether to shuffle each domain (with rare class
            sampling on: the target domain). Defaults to True.
        seed (int, optional): Random seed; must be identical on all ranks.
            If None, a random seed is drawn and synchronised across ranks.
            Defaults to None.
    """

    def __init__(self,
                 dataset: Sized,
                 shuffle: bool = True,
                 seed: Optional[int] = None) -> None:
        if not (hasattr(dataset, 'source') and hasattr(dataset, 'target')):
            raise TypeError(
                'SourceTargetSampler needs a SourceTargetDataset (with '
                f'`source` and `target` datasets), but got {type(dataset)}')
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else seed
        self.num_source = len(dataset.source)
        self.num_target = len(dataset.target)
        if self.num_source == 0 or self.num_target == 0:
            raise ValueError(
                'SourceTargetSampler needs non-empty datasets, got '
                f'{self.num_source} source and {self.num_target} target '
                'samples')
        self.rare_class_sampling = getattr(dataset, 'rare_class_sampling',
                                          None)
        self.indices = self._indices_of_rank()

    def _pairs(self) -> Iterator[Union[int, RareClassIndex]]:
        """Combined indices of all ranks: the zip of both domain streams."""
        targets = _endless(self.num_target, self.shuffle,
                           target_stream_seed(self.seed))
        if self.rare_class_sampling is not None:
            draws = _rare_class_draws(self.rare_class_sampling, self.seed)
            for (c, s), t in zip(draws, targets):
                yield RareClassIndex(source=s, target=t, cls=c)
            return
        sources = _endless(self.num_source, self.shuffle, self.seed)
        for s, t in zip(sources, targets):
            yield s * self.num_target + t

    def _indices_of_rank(self) -> Iterator[Union[int, RareClassIndex]]:
        """This rank's slice of the combined stream."""
        yield from itertools.islice(self._pairs(), self.rank, None,
                                    self.world_size)

    def __iter__(self) -> Iterator[Union[int, RareClassIndex]]:
        """The endless iterator of this rank's combined indices.

        Every call returns the same iterator, so a new iteration continues
        where the previous one stopped (the iterator is returned rather than
        delegated to, so dropping one iteration does not close the stream).
        """
        return self.indices

    def __len__(self) -> int:
        """Nominal epoch length: ``max(len(source), len(target))``.

        The sampler is infinite; this is the number of draws after which
        both domains have been seen completely at least once.
        """
        return max(self.num_source, self.num_target)

    def set_epoch(self, epoch: int) -> None:
        """Not used by iteration-based training (no-op)."""
