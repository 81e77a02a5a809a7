"""An EncoderDecoder with the extras the UDA originals need."""
import copy
import logging
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import ConfigDict
from mmengine.logging import print_log
from mmseg.models.losses import accuracy
from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import OptSampleList, SampleList
from torch import Tensor


@MODELS.register_module()
class UDAEncoderDecoder(EncoderDecoder):
    """Stock :class:`EncoderDecoder` plus what UDA needs from a segmentor.

    **Multi-level logits.** ``forward(inputs, mode='levels')`` returns the
    logits of every head from one backbone pass, at feature resolution:
    ``{'main': decode_head, 'aux': auxiliary_head}`` (``'aux_<i>'`` for a
    list of auxiliary heads). UDA models call it through ``forward`` so a
    DDP wrapper syncs gradients, and compute the source losses from those
    logits with :meth:`loss_by_levels` (the heads' own ``loss_by_feat``).
    ``mode='levels_and_feats'`` returns ``(levels, feats)``: the same logits
    and the features they came from (``extract_feat``), for losses on the
    features of the same forward pass (DAFormer's feature distance).
    ``mode='inference_levels'`` returns ``{'main': logits}``: the logits
    inference computes (:meth:`inference_logits`, the decode head's on the
    whole image here), which is what the DAFormer family's teacher labels
    target images with (``generate_pseudo_label``); multi-resolution
    segmentors override :meth:`inference_logits`.

    **Evaluation protocol of the originals.**

    With ``test_cfg=dict(mode='whole', logits_to_ori_shape=True)`` the
    logits at feature resolution are upsampled in one step, bilinearly with
    the head's ``align_corners``, straight to the original label size
    (``ori_shape``) before the argmax. This is how AdaptSegNet, ADVENT,
    IntraDA and BDL evaluate (images fed at 1024x512, logits upsampled to
    2048x1024). Stock mmseg upsamples twice (to the network input, then to
    ``ori_shape``), which differs slightly. Without the option it behaves
    exactly like :class:`EncoderDecoder`.

    **Probabilities the way BDL computes them.** Adding
    ``probs_to_ori_shape=True`` (only valid with ``logits_to_ori_shape``)
    applies the softmax at feature resolution, before the one-step
    upsampling, so ``seg_logits`` of the predictions hold class
    probabilities at ``ori_shape``. The argmax is unchanged up to
    interpolation round-off; pseudo-label generators consume these.

    **Predictions at the input size.** Adding ``output_at_input_size=True``
    (only valid with ``logits_to_ori_shape``) makes the one-step upsampling
    target the network input's size instead of ``ori_shape``, and
    ``predict`` returns ``seg_logits``/``pred_sem_seg`` at that size. This
    is how IntraDA ranks and BDL labels target images: at the size they are
    fed (1024x512 for Cityscapes). Target-set jobs switch these options on
    for their run with :meth:`test_cfg_options`.

    **UDA checkpoints.** A checkpoint of a UDA model (``segmentor.*``
    beside ``discriminators.*``, ``teacher.*`` ...) loads its ``segmentor.*``
    weights, the adapted segmentor, into this model, so that
    ``tools/test.py`` and ``mmseg.apis.init_model`` with a plain segmentor
    config test the adapted model; the other entries are ignored, which is
    logged in one line.
    """

    def forward(self,
                inputs: Tensor,
                data_samples: OptSampleList = None,
                mode: str = 'tensor') -> Union[Dict[str, Tensor], list,
                                               Tensor]:
        """mmseg's modes ``'loss'``, ``'predict'``, ``'tensor'``, plus
        ``'levels'``, ``'levels_and_feats'`` and ``'inference_levels'`` (see
        the class docstring)."""
        if mode == 'levels':
            return self.forward_levels(inputs)
        if mode == 'levels_and_feats':
            return self.forward_levels(inputs, return_feats=True)
        if mode == 'inference_levels':
            return {'main': self.inference_logits(inputs)}
        return super().forward(inputs, data_samples, mode)

    def inference_logits(self, inputs: Tensor) -> Tensor:
        """The decode head's logits of whole images at its resolution
        (``encode_decode`` before the upsampling)."""
        return self.decode_head.forward(self.extract_feat(inputs))

    @contextmanager
    def test_cfg_options(self, **options) -> Iterator[None]:
        """Use ``test_cfg`` updated with ``options`` for the duration.

        Args:
            **options: ``test_cfg`` keys, e.g. ``mode='whole',
                logits_to_ori_shape=True, output_at_input_size=True``.
        """
        old_cfg = self.test_cfg
        self.test_cfg = ConfigDict(copy.deepcopy(dict(old_cfg or {})),
                                   **options)
        try:
            yield
        finally:
            self.test_cfg = old_cfg

    def predict(self,
                inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """mmseg's ``predict``; with ``output_at_input_size`` the
        predictions stay at the network input's size (see the class
        docstring)."""
        if not self.test_cfg.get('output_at_input_size', False) or \
                data_samples is None:
            return super().predict(inputs, data_samples)
        metas = [sample.metainfo for sample in data_samples]
        seg_logits = self.inference(inputs, metas)
        # without samples mmseg's postprocess keeps the size as it is
        for sample, pred in zip(data_samples,
                                self.postprocess_result(seg_logits)):
            sample.set_data(dict(seg_logits=pred.seg_logits,
                                 pred_sem_seg=pred.pred_sem_seg))
        return data_samples

    def level_names(self) -> List[str]:
        """Names of the levels :meth:`forward_levels` returns."""
        return ['main', *self._aux_heads()]

    def _aux_heads(self) -> Dict[str, nn.Module]:
        if not self.with_auxiliary_head:
            return {}
        if isinstance(self.auxiliary_head, nn.ModuleList):
            return {f'aux_{i}': h for i, h in enumerate(self.auxiliary_head)}
        return {'aux': self.auxiliary_head}

    def forward_levels(self, inputs: Tensor, return_feats: bool = False
                       ) -> Union[Dict[str, Tensor],
                                  Tuple[Dict[str, Tensor], List[Tensor]]]:
        """Logits of every head from one backbone pass.

        Args:
            inputs (Tensor): Images of shape (N, C, H, W).
            return_feats (bool): Also return the features of
                ``extract_feat`` the heads were fed.

        Returns:
            dict[str, Tensor] | tuple: ``'main'`` and auxiliary logits at
            feature resolution; with ``return_feats`` the pair
            ``(levels, feats)``.
        """
        feats = self.extract_feat(inputs)
        levels = {'main': self.decode_head.forward(feats)}
        for name, head in self._aux_heads().items():
            levels[name] = head.forward(feats)
        return (levels, feats) if return_feats else levels

    def loss_by_levels(self,
                       levels: Dict[str, Tensor],
                       data_samples: SampleList,
                       names: Optional[List[str]] = None,
                       pixel_weight: Optional[Tensor] = None) -> dict:
        """Losses of the heads from :meth:`forward_levels` logits.

        Each head applies its own ``loss_decode`` (weights included, e.g.
        0.1 for the auxiliary head) on logits upsampled (bilinear, the
        head's ``align_corners``) to the label size; without
        ``pixel_weight`` this is the head's own ``loss_by_feat``.

        Args:
            levels (dict[str, Tensor]): Output of :meth:`forward_levels`.
            data_samples (list[SegDataSample]): Samples with ``gt_sem_seg``.
            names (list[str], optional): Levels to compute; all by default.
            pixel_weight (Tensor, optional): Weights (N, H, W) of the label
                pixels, passed to every ``loss_decode`` as ``weight`` (e.g.
                the pseudo-label weights of DACS); a head's pixel sampler
                is then not used.

        Returns:
            dict[str, Tensor]: ``'<level>.loss_ce'``, ``'<level>.acc_seg'``
            ... for each level.
        """
        heads = {'main': self.decode_head, **self._aux_heads()}
        losses = {}
        for name in names if names is not None else list(levels):
            if pixel_weight is None:
                head_losses = heads[name].loss_by_feat(levels[name],
                                                       data_samples)
            else:
                head_losses = self._weighted_loss(heads[name], levels[name],
                                                  data_samples, pixel_weight)
            for key, value in head_losses.items():
                losses[f'{name}.{key}'] = value
        return losses

    @staticmethod
    def _weighted_loss(head: nn.Module, logits: Tensor,
                       data_samples: SampleList,
                       pixel_weight: Tensor) -> Dict[str, Tensor]:
        """A head's ``loss_by_feat`` with given pixel weights instead of
        its sampler's."""
        labels = torch.stack([s.gt_sem_seg.data for s in data_samples])
        labels = labels.squeeze(1)
        if pixel_weight.shape != labels.shape:
            raise ValueError(
                f'pixel_weight must have the label shape {tuple(labels.shape)}'
                f', got {tuple(pixel_weight.shape)}')
        logits = resize(logits, size=labels.shape[1:], mode='bilinear',
                        align_corners=head.align_corners)
        loss_decodes = head.loss_decode if isinstance(
            head.loss_decode, nn.ModuleList) else [head.loss_decode]
        losses = {}
        for loss_decode in loss_decodes:
            value = loss_decode(logits, labels, weight=pixel_weight,
                                ignore_index=head.ignore_index)
            name = loss_decode.loss_name
            losses[name] = losses[name] + value if name in losses else value
        losses['acc_seg'] = accuracy(logits.detach(), labels,
                                     ignore_index=head.ignore_index)
        return losses

    def whole_inference(self, inputs: Tensor,
                        batch_img_metas: List[dict]) -> Tensor:
        """Inference on whole images, optionally upsampling once to
        ``ori_shape``.

        Args:
            inputs (Tensor): Images of shape (N, C, H, W).
            batch_img_metas (List[dict]): Meta information of each image.

        Returns:
            Tensor: Logits of shape (N, num_classes, h, w), where (h, w) is
            the input size, or the original size with ``logits_to_ori_shape``
            (the input size again with ``output_at_input_size``;
            probabilities with ``probs_to_ori_shape``).
        """
        to_probs = self.test_cfg.get('probs_to_ori_shape', False)
        at_input = self.test_cfg.get('output_at_input_size', False)
        if not self.test_cfg.get('logits_to_ori_shape', False):
            for key, on in (('probs_to_ori_shape', to_probs),
                            ('output_at_input_size', at_input)):
                if on:
                    raise ValueError(f'test_cfg `{key}=True` needs '
                                     '`logits_to_ori_shape=True`')
            return super().whole_inference(inputs, batch_img_metas)
        ori_shape = tuple(batch_img_metas[0]['ori_shape'][:2])
        if at_input:
            ori_shape = tuple(inputs.shape[2:])
        for meta in batch_img_metas:
            if not at_input and tuple(meta['ori_shape'][:2]) != ori_shape:
                raise ValueError(
                    '`logits_to_ori_shape` needs one original size per batch, '
                    f"got {ori_shape} and {meta['ori_shape']} "
                    f"({meta.get('img_path')})")
            if any(meta.get('padding_size', [0] * 4)) or any(
                    meta.get('img_padding_size', [0] * 4)):
                raise ValueError(
                    '`logits_to_ori_shape` cannot be combined with padded '
                    f"inputs ({meta.get('img_path')})")
        logits = self.decode_head.forward(self.extract_feat(inputs))
        if to_probs:
            logits = logits.softmax(dim=1)
        return resize(
            logits,
            size=ori_shape,
            mode='bilinear',
            align_corners=self.align_corners,
            warning=False)

    def _load_from_state_dict(self, state_dict: dict, prefix: str,
                              local_metadata: dict, strict: bool,
                              missing_keys: List[str],
                              unexpected_keys: List[str],
                              error_msgs: List[str]) -> None:
        """Take the segmentor out of a UDA checkpoint (see the class
        docstring)."""
        own = [k for k in state_dict if k.startswith(prefix)]
        children = tuple(f'{prefix}{name}.' for name in self._modules
                         if name != 'data_preprocessor')
        inner = f'{prefix}segmentor.'
        if any(k.startswith(inner) for k in own) and \
                not any(k.startswith(children) for k in own):
            ignored = set()
            for key in own:
                value = state_dict.pop(key)
                if key.startswith(inner):
                    state_dict[prefix + key[len(inner):]] = value
                else:
                    ignored.add(key[len(prefix):].split('.')[0])
            print_log(
                'UDA checkpoint: loading its `segmentor.*` weights (the '
                'adapted segmentor)' +
                (f'; ignoring {", ".join(sorted(ignored))}'
                 if ignored else ''), logger='current', level=logging.INFO)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)
