"""Test-time ensemble of segmentors that load their own checkpoints."""
from typing import List, Optional, Sequence, Union

import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config, ConfigDict
from mmengine.runner.checkpoint import CheckpointLoader
from mmseg.models.segmentors import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.utils import OptConfigType, OptSampleList, SampleList
from torch import Tensor

from mmseg_uda.utils import mmengine_checkpoint_globals


def _segmentor_state(state: dict) -> dict:
    """A plain segmentor state dict from a plain or UDA checkpoint."""
    state = state.get('state_dict', state)
    if any(k.startswith('segmentor.') for k in state):
        state = {k[len('segmentor.'):]: v for k, v in state.items()
                 if k.startswith('segmentor.')}
    return state


@MODELS.register_module()
class EnsembleSegmentor(BaseSegmentor):
    """Average the predictions of several trained segmentors.

    Each member is built from its own config (the segmentor of a UDA
    config, or a plain segmentor config) and loads its checkpoint when the
    ensemble is built (a plain segmentor checkpoint or a UDA one, whose
    ``segmentor.*`` weights are taken). For each image the members' logits
    (each from its own ``inference``, e.g. upsampled to the label size with
    ``logits_to_ori_shape``) are fused as ``sum_i w_i * softmax(logits_i)``
    (``fuse='probs'``) or ``sum_i w_i * logits_i`` (``fuse='logits'``, as
    ADVENT's ``eval_single``), then the usual mmseg post-processing
    (argmax, ``SegDataSample``) runs, so ``tools/test.py`` and
    ``IoUMetric`` work unchanged. Members see the inputs normalised by the
    ensemble's data preprocessor (the first member's by default).

    Args:
        members (list[dict]): ``dict(config=..., checkpoint=...)`` per
            member: a config file path (or config dict) and a checkpoint.
        weights (list[float], optional): Weight of each member. Defaults to
            equal weights summing to 1.
        fuse (str): ``'probs'`` or ``'logits'``.
        data_preprocessor (dict, optional): Defaults to the first member's.
        init_cfg (dict, optional): Initialisation config.
    """

    FUSE_MODES = ('probs', 'logits')
    # tools/test.py needs no CHECKPOINT argument for this model
    loads_own_checkpoints = True

    def __init__(self,
                 members: Sequence[dict],
                 weights: Optional[Sequence[float]] = None,
                 fuse: str = 'probs',
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        if not members:
            raise ValueError('EnsembleSegmentor needs at least one member')
        if fuse not in self.FUSE_MODES:
            raise ValueError(f'fuse must be one of {self.FUSE_MODES}, '
                             f'got {fuse!r}')
        if weights is None:
            weights = [1.0 / len(members)] * len(members)
        if len(weights) != len(members):
            raise ValueError(f'{len(weights)} weights for {len(members)} '
                             'members')
        seg_cfgs = [self._segmentor_cfg(m['config']) for m in members]
        if data_preprocessor is None:
            data_preprocessor = seg_cfgs[0].get('data_preprocessor')
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.fuse = fuse
        self.weights = [float(w) for w in weights]
        self.members = nn.ModuleList()
        for member, seg_cfg in zip(members, seg_cfgs):
            if not member.get('checkpoint'):
                raise ValueError(f'member {member} has no checkpoint')
            self.members.append(self._load_member(seg_cfg,
                                                  member['checkpoint']))
        self.align_corners = self.members[0].align_corners
        self.num_classes = self.members[0].num_classes
        self.out_channels = self.members[0].out_channels

    @staticmethod
    def _segmentor_cfg(config: Union[str, dict]) -> ConfigDict:
        """The segmentor config of a member config (UDA or plain)."""
        cfg = Config.fromfile(config) if isinstance(config, str) else \
            ConfigDict(config)
        model = cfg['model'] if 'model' in cfg else cfg
        model = ConfigDict(model.get('segmentor', model))
        # members get their weights from their checkpoints
        if 'backbone' in model:
            model.backbone.init_cfg = None
        model.pop('init_cfg', None)
        return model

    @staticmethod
    def _load_member(seg_cfg: ConfigDict, checkpoint: str) -> nn.Module:
        """Build a member segmentor and load its checkpoint (strict)."""
        segmentor = MODELS.build(seg_cfg)
        with mmengine_checkpoint_globals():
            state = CheckpointLoader.load_checkpoint(checkpoint,
                                                     map_location='cpu')
        segmentor.load_state_dict(_segmentor_state(state), strict=True)
        return segmentor.eval()

    def init_weights(self) -> None:
        """Nothing to initialise: members loaded their checkpoints."""

    def _fused(self, per_member: List[Tensor]) -> Tensor:
        fused = 0
        for weight, logits in zip(self.weights, per_member):
            if self.fuse == 'probs':
                logits = F.softmax(logits, dim=1)
            fused = fused + weight * logits
        return fused

    def inference(self, inputs: Tensor,
                  batch_img_metas: List[dict]) -> Tensor:
        """Fused predictions of the members (see the class docstring)."""
        return self._fused(
            [m.inference(inputs, batch_img_metas) for m in self.members])

    def predict(self, inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """Fused prediction wrapped in ``SegDataSample``s.

        Args:
            inputs (Tensor): Images of shape (N, C, H, W).
            data_samples (list[SegDataSample], optional): Samples with
                meta information.

        Returns:
            list[SegDataSample]: ``pred_sem_seg`` (argmax of the fused
            output) and ``seg_logits`` (the fused probabilities or logits).
        """
        if data_samples is not None:
            metas = [sample.metainfo for sample in data_samples]
        else:
            metas = [dict(ori_shape=inputs.shape[2:],
                          img_shape=inputs.shape[2:],
                          pad_shape=inputs.shape[2:],
                          padding_size=[0, 0, 0, 0])] * inputs.shape[0]
        return self.postprocess_result(self.inference(inputs, metas),
                                       data_samples)

    def extract_feat(self, inputs: Tensor) -> List[List[Tensor]]:
        """Features of every member."""
        return [m.extract_feat(inputs) for m in self.members]

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """Fused outputs of the members' ``encode_decode``."""
        return self._fused([m.encode_decode(inputs, batch_img_metas)
                            for m in self.members])

    def _forward(self, inputs: Tensor,
                 data_samples: OptSampleList = None) -> Tensor:
        """Fused outputs of the members' ``_forward`` (``tensor`` mode)."""
        return self._fused([m._forward(inputs, data_samples)
                            for m in self.members])

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Not supported: an ensemble is for testing only."""
        raise NotImplementedError(
            'EnsembleSegmentor is for testing only: train its members')
