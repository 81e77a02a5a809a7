"""Generate pseudo-labels of a dataset with a model, in-process.

Called by ``tools/gen_pseudo_labels.py`` and by training hooks between
self-training rounds. Works on one process or under ``torch.distributed``
(each rank runs its share of the images), resumes an interrupted run and
returns at once when the directory is already complete.
"""
import copy
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.config import ConfigDict
from mmengine.dataset import DefaultSampler, pseudo_collate
from mmengine.dist import barrier, broadcast_object_list, get_rank
from mmengine.evaluator import Evaluator
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import DefaultScope
from mmengine.utils import ProgressBar
from mmseg.registry import DATASETS
from torch.utils.data import DataLoader, Subset

from mmseg_uda.models.segmentors import UDAEncoderDecoder
from .metrics.pseudo_label_generator import PseudoLabelGenerator
from .metrics.pseudo_label_io import (finish_run, is_complete, is_processed,
                                      read_summary, start_run, write_names)
from .metrics.ranking_io import image_key


def find_segmentor(model: nn.Module) -> UDAEncoderDecoder:
    """The :class:`UDAEncoderDecoder` of a (DDP-wrapped) UDA model or
    segmentor.

    Raises:
        TypeError: If the model holds no ``UDAEncoderDecoder``.
    """
    if is_model_wrapper(model):
        model = model.module
    seg = getattr(model, 'segmentor', model)
    if is_model_wrapper(seg):
        seg = seg.module
    if not isinstance(seg, UDAEncoderDecoder):
        raise TypeError('pseudo-labels need a UDAEncoderDecoder segmentor '
                        f'(probs_to_ori_shape), got {type(seg).__name__}')
    return seg


@contextmanager
def probability_inference(model: nn.Module) -> Iterator[None]:
    """Eval mode and BDL's probabilities at ``ori_shape`` for the duration.

    Sets ``test_cfg`` ``mode='whole'``, ``logits_to_ori_shape`` and
    ``probs_to_ori_shape`` on the segmentor; restores its ``test_cfg`` and
    the model's train/eval mode afterwards.
    """
    seg = find_segmentor(model)
    old_cfg, was_training = seg.test_cfg, model.training
    seg.test_cfg = ConfigDict(
        copy.deepcopy(dict(old_cfg or {})), mode='whole',
        logits_to_ori_shape=True, probs_to_ori_shape=True)
    model.eval()
    try:
        yield
    finally:
        seg.test_cfg = old_cfg
        model.train(was_training)


def _names(dataset) -> Tuple[List[str], str]:
    suffix = getattr(dataset, 'img_suffix', '_leftImg8bit.png')
    names = [image_key(dataset.get_data_info(i)['img_path'], suffix)
             for i in range(len(dataset))]
    if len(set(names)) != len(names):
        raise ValueError('two images of the dataset share a <city>/<stem> '
                         'name')
    return names, suffix


def _broadcast(obj):
    box = [obj]
    broadcast_object_list(box)
    return box[0]


def generate_pseudo_labels(model: nn.Module,
                           dataset_cfg: dict,
                           out_dir: str,
                           rule_cfg: dict,
                           batch_size: int = 1,
                           num_workers: int = 0,
                           model_id: Optional[str] = None) -> Dict:
    """Write the pseudo-labels of ``dataset_cfg``'s images into ``out_dir``.

    Args:
        model (nn.Module): A UDA model, a ``UDAEncoderDecoder`` or either
            wrapped in DDP.
        dataset_cfg (dict): The images, fed at the size labels are wanted
            (e.g. from ``ranking_dataset_cfg``, with
            ``ImgShapeAsOriShape``).
        out_dir (str): The pseudo-label directory (see
            :mod:`mmseg_uda.evaluation.metrics.pseudo_label_io`).
        rule_cfg (dict): Arguments of :class:`PseudoLabelGenerator` other
            than ``out_dir``/``img_suffix``, e.g.
            ``dict(rule='bdl', quantile=0.5, cap=0.9)``.
        batch_size (int): Images per forward pass.
        num_workers (int): Dataloader workers.
        model_id (str, optional): What identifies the model (e.g. its
            checkpoint path, size and time). Recorded with the settings: a
            directory made by another model is never reused or resumed,
            its outputs are replaced.

    Returns:
        dict: The summary (``pseudo_labels.json``), on every rank.
    """
    rule_cfg = dict(rule_cfg)
    for key in ('out_dir', 'img_suffix', 'type'):
        if key in rule_cfg:
            raise KeyError(f'rule_cfg must not set {key!r}')
    scope = None if DefaultScope.get_current_instance() else 'mmseg'
    with DefaultScope.overwrite_default_scope(scope):
        dataset = DATASETS.build(copy.deepcopy(dataset_cfg))
    names, suffix = _names(dataset)
    seg = find_segmentor(model)  # fail before any work
    rule_cfg.setdefault('num_classes', seg.decode_head.num_classes)
    metric = PseudoLabelGenerator(out_dir=out_dir, img_suffix=suffix,
                                  **rule_cfg)
    if model_id is not None:
        metric.settings = dict(metric.settings, model=model_id)
    rank = get_rank()
    todo = None
    if rank == 0:
        if is_complete(out_dir, metric.settings, names):
            todo = 'complete'
            # a run stopped between its summary and its clean-up
            finish_run(out_dir, metric.keep_cache)
        else:
            start_run(out_dir, metric.settings)
            write_names(out_dir, sorted(names))
            todo = [i for i, n in enumerate(names)
                    if not is_processed(out_dir, n, metric.rule)]
    todo = _broadcast(todo)
    if todo == 'complete':
        print_log(f'{out_dir} already holds the {metric.rule} pseudo-labels '
                  f'of these {len(names)} images', logger='current')
        return _broadcast(read_summary(out_dir) if rank == 0 else None)
    print_log(f'{len(names)} images, {len(names) - len(todo)} already '
              f'processed in {out_dir}', logger='current')

    if todo:
        # not dataset.get_subset: mmengine 0.10 deep-copies the pipeline
        # with a memo shared across calls (a mutable default argument), so
        # a second subset can get a stale object in place of a transform
        subset = Subset(dataset, todo)
        loader = DataLoader(
            subset, batch_size=batch_size, num_workers=num_workers,
            sampler=DefaultSampler(subset, shuffle=False),
            collate_fn=pseudo_collate)
        evaluator = Evaluator(metric)
        if rank == 0:
            print_log(f'running the model over {len(subset)} images '
                      f'({len(loader)} batches)', logger='current')
        bar = ProgressBar(len(loader)) if rank == 0 else None
        with probability_inference(model), torch.no_grad():
            for batch in loader:
                outputs = model.test_step(batch)
                evaluator.process(outputs, batch)
                if bar is not None:
                    bar.update()
        evaluator.evaluate(len(subset))
    elif rank == 0:  # all processed before: only the set-wide step
        metric.compute_metrics([])
    barrier()
    return _broadcast(read_summary(out_dir) if rank == 0 else None)
