"""The generator pair and the discriminator pair of a CycleGAN."""
from typing import Dict

import torch.nn as nn
from torch import Tensor

S2T, T2S = 'source_to_target', 'target_to_source'
DIRECTIONS = (S2T, T2S)


class CycleGenerators(nn.ModuleDict):
    """The two generators, run together in one ``forward``.

    One call makes every image of the generator step, so a DDP wrapper of
    the pair sees one forward per backward.
    """

    def forward(self, source: Tensor, target: Tensor,
                identity: bool = True) -> Dict[str, Tensor]:
        """Translations, reconstructions and identity mappings.

        Returns:
            dict[str, Tensor]: ``s2t`` = G_s2t(source), ``rec_source`` =
            G_t2s(s2t), ``t2s`` = G_t2s(target), ``rec_target`` =
            G_s2t(t2s) and, with ``identity``, ``idt_target`` =
            G_s2t(target), ``idt_source`` = G_t2s(source).
        """
        g_s2t, g_t2s = self[S2T], self[T2S]
        out = dict(s2t=g_s2t(source), t2s=g_t2s(target))
        out['rec_source'] = g_t2s(out['s2t'])
        out['rec_target'] = g_s2t(out['t2s'])
        if identity:
            out['idt_target'] = g_s2t(target)
            out['idt_source'] = g_t2s(source)
        return out


class DomainDiscriminators(nn.ModuleDict):
    """One discriminator per domain, called in one ``forward``."""

    def forward(self, inputs: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Apply the discriminator of each domain to its images."""
        return {domain: self[domain](x) for domain, x in inputs.items()}
