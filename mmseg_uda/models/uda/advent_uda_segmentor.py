"""ADVENT: adversarial entropy maps (AdvEnt) and entropy minimisation."""
from typing import Dict, Mapping, Union

import torch.nn.functional as F
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType
from torch import Tensor

from mmseg_uda.utils.config_check import LEVELS

from ..losses import self_information_map
from .adversarial_uda_segmentor import AdversarialUDASegmentor
from .base_uda_segmentor import BaseUDASegmentor


@MODELS.register_module()
class AdvEntUDASegmentor(AdversarialUDASegmentor):
    """ADVENT's AdvEnt: adversarial alignment of entropy maps.

    AdaptSegNet's training step (:class:`AdversarialUDASegmentor`) with the
    discriminators fed the weighted self-information map
    ``-p * log2(p + 1e-30) / log2(C)`` of the softmax ``p`` of the logits
    upsampled (bilinear, ``align_corners=True``) to the input size, instead
    of the softmax itself. Arguments as :class:`AdversarialUDASegmentor`.
    """

    def discriminator_input(self, logits: Tensor) -> Tensor:
        """What the discriminator sees: the self-information map."""
        return self_information_map(F.softmax(logits, dim=1))


@MODELS.register_module()
class MinEntUDASegmentor(BaseUDASegmentor):
    """ADVENT's MinEnt: direct entropy minimisation on the target domain.

    One training iteration (``train_step``), as ADVENT's ``train_minent``:

    1. segmentation loss on the source batch (the heads' ``loss_decode``,
       e.g. CE main + 0.1 CE aux), backward (the same
       :meth:`~BaseUDASegmentor.source_step` as the adversarial models);
    2. entropy loss (``loss_entropy``, the mean normalised entropy of the
       softmax) of the target logits of each level in ``ent_weights``,
       upsampled (bilinear, ``align_corners=True``) to the input size,
       weighted (e.g. 0.001 main, 0.0002 aux), backward;
    3. the segmentor's optimizer steps.

    Args:
        segmentor (dict): Config of a ``UDAEncoderDecoder``.
        ent_weights (dict[str, float]): Levels (``'main'``, ``'aux'``) whose
            target entropy is minimised and the weights of their losses;
            every level of the segmentor (see
            :meth:`~BaseUDASegmentor.check_target_levels`).
        loss_entropy (dict): Config of the entropy loss on logits.
        data_preprocessor (dict, optional): A ``UDASegDataPreProcessor``.
        init_cfg (dict, optional): Initialisation config.
        **kwargs: Training options of :class:`BaseUDASegmentor`
            (``channels_last``, ``nonfinite_loss``).
    """

    OPTION_KEYS = dict(ent_weights=LEVELS)

    def __init__(self,
                 segmentor: ConfigType,
                 ent_weights: Mapping[str, float] = dict(
                     main=0.001, aux=0.0002),
                 loss_entropy: ConfigType = dict(type='EntropyLoss'),
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptConfigType = None,
                 **kwargs) -> None:
        super().__init__(segmentor, data_preprocessor, init_cfg, **kwargs)
        self.ent_weights = self.check_levels(ent_weights, 'ent_weights')
        self.check_target_levels(self.ent_weights, 'ent_weights')
        self.loss_entropy = MODELS.build(loss_entropy)

    def train_step(self, data: dict,
                   optim_wrapper: Union[OptimWrapper, OptimWrapperDict]
                   ) -> Dict[str, Tensor]:
        """One iteration of ADVENT's MinEnt training.

        Args:
            data (dict): A paired batch ``dict(source=..., target=...)``.
            optim_wrapper (OptimWrapper | OptimWrapperDict): The segmentor's
                wrapper, or a dict holding it as ``segmentor``.

        Returns:
            dict[str, Tensor]: Every loss term, for logging.
        """
        seg_optim, = self.optim_wrappers(optim_wrapper, 'segmentor',
                                         allow_plain=True)
        data = self.preprocess(data)
        src, tgt = data['source'], data['target']
        tgt_size = tuple(tgt['inputs'].shape[2:])
        log_vars: Dict[str, Tensor] = {}

        # 1. supervised loss on the source domain
        self.source_step(src, seg_optim, log_vars)

        # 2. entropy of the target predictions at the input size
        with seg_optim.optim_context(self.segmentor):
            tgt_levels = self.segmentor(tgt['inputs'], tgt['data_samples'],
                                        mode='levels')
            terms = {}
            for level, weight in self.ent_weights.items():
                logits = resize(tgt_levels[level], size=tgt_size,
                                mode='bilinear', align_corners=True)
                terms[f'tgt.{level}.loss_ent'] = \
                    weight * self.loss_entropy(logits)
            loss = self.record_losses(terms, log_vars)
        seg_optim.backward(loss)

        # 3. step (not if a loss is not finite)
        self.step_optimizers((seg_optim, ), log_vars)
        return log_vars
