"""Time our entropy ranker and pseudo-label generator against re-statements
of the originals' per-image loops, on the same model and images.

Ours: the ranker (:class:`EntropyRanker` behind the test loop of
``tools/rank_targets.py``) and the pseudo-label generator. Originals:
IntraDA's ranking loop (per image: forward, upsample, softmax, mean entropy
kept in a Python list, argmax PNG written, list sorted) and BDL's SSL.py
(per image: forward, softmax, upsample, argmax and maximum kept in float64
arrays of the whole set; then per-class medians with numpy and the labels
written). Each run reports images/s and its peak memory, for N and 2N
images, so memory that grows with the set shows.
"""
import copy
import math
import os
import os.path as osp
import shutil
import sys
import tempfile
import time
from typing import Dict, List

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dataset import DefaultSampler, pseudo_collate
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from mmengine.utils import ProgressBar
from mmseg.registry import DATASETS
from torch.utils.data import DataLoader

from mmseg_uda.datasets.ranking_dir import image_key
from mmseg_uda.datasets.target_set import ranking_dataset_cfg
from mmseg_uda.evaluation.metrics import EntropyRanker, PseudoLabelGenerator
from mmseg_uda.evaluation.target_set_loop import (PSEUDO_LABEL_TEST_CFG,
                                                  RANKING_TEST_CFG,
                                                  find_segmentor)
from .peak_memory import MB, PeakMemorySampler

TASKS = ('ranker', 'pseudo_labels')


def subset_dataset_cfg(cfg, num_images: int) -> dict:
    """The target images the tools run on (``ranking_dataset_cfg``), the
    first ``num_images`` of them.

    Raises:
        ValueError: If the dataset has fewer images.
    """
    dataset_cfg = ranking_dataset_cfg(cfg)
    scope = None if DefaultScope.get_current_instance() else 'mmseg'
    with DefaultScope.overwrite_default_scope(scope):
        available = len(DATASETS.build(copy.deepcopy(dataset_cfg)))
    if num_images < 1 or num_images > available:
        raise ValueError(f'--num-images {num_images}: the target dataset '
                         f'has {available} images (2N are needed)')
    dataset_cfg['indices'] = num_images
    return dataset_cfg


def _loader(dataset_cfg: dict, batch_size: int, num_workers: int):
    scope = None if DefaultScope.get_current_instance() else 'mmseg'
    with DefaultScope.overwrite_default_scope(scope):
        dataset = DATASETS.build(copy.deepcopy(dataset_cfg))
    return dataset, DataLoader(
        dataset, batch_size=batch_size, num_workers=num_workers,
        sampler=DefaultSampler(dataset, shuffle=False),
        collate_fn=pseudo_collate)


def _main_logits(model: nn.Module, batch: dict) -> torch.Tensor:
    """Main-head logits of one preprocessed image at feature resolution."""
    seg = find_segmentor(model)
    data = model.data_preprocessor(batch, False)
    return seg.decode_head.forward(seg.extract_feat(data['inputs']))


def ours_ranker(model, dataset_cfg, out_dir, batch_size, num_workers):
    """Our ranker: test_step + :class:`EntropyRanker`, as the test loop."""
    dataset, loader = _loader(dataset_cfg, batch_size, num_workers)
    suffix = getattr(dataset, 'img_suffix', '_leftImg8bit.png')
    evaluator = Evaluator(EntropyRanker(out_dir=out_dir, img_suffix=suffix))
    model.eval()
    with torch.no_grad(), find_segmentor(model).test_cfg_options(
            **RANKING_TEST_CFG):
        for batch in loader:
            evaluator.process(model.test_step(batch), batch)
    evaluator.evaluate(len(dataset))


def original_ranker(model, dataset_cfg, out_dir, batch_size, num_workers):
    """IntraDA's ranking loop: one image at a time, scores in a list."""
    dataset, loader = _loader(dataset_cfg, 1, num_workers)
    suffix = getattr(dataset, 'img_suffix', '_leftImg8bit.png')
    entropies = []
    model.eval()
    with torch.no_grad():
        for batch in loader:
            logits = _main_logits(model, batch)
            size = batch['data_samples'][0].img_shape[:2]
            logits = F.interpolate(logits, size=size, mode='bilinear',
                                   align_corners=True)
            prob = F.softmax(logits, dim=1)
            entropy = -(prob * torch.log2(prob + 1e-30)).sum(dim=1)
            name = image_key(batch['data_samples'][0].img_path, suffix)
            entropies.append(
                (name, entropy.mean().item() / math.log2(prob.shape[1])))
            pred = logits[0].argmax(dim=0).to(torch.uint8).cpu().numpy()
            path = osp.join(out_dir, 'predictions', f'{name}.png')
            os.makedirs(osp.dirname(path), exist_ok=True)
            cv2.imwrite(path, pred)
    entropies.sort(key=lambda item: item[1])
    with open(osp.join(out_dir, 'ranking.txt'), 'w') as f:
        f.writelines(f'{n} {e}\n' for n, e in entropies)


def ours_pseudo_labels(model, dataset_cfg, out_dir, batch_size,
                       num_workers):
    """Our generator (BDL's rule, constant memory), as the test loop."""
    dataset, loader = _loader(dataset_cfg, batch_size, num_workers)
    seg = find_segmentor(model)
    evaluator = Evaluator(PseudoLabelGenerator(
        out_dir=out_dir, num_classes=seg.decode_head.num_classes,
        img_suffix=getattr(dataset, 'img_suffix', '_leftImg8bit.png')))
    model.eval()
    with torch.no_grad(), seg.test_cfg_options(**PSEUDO_LABEL_TEST_CFG):
        for batch in loader:
            evaluator.process(model.test_step(batch), batch)
    evaluator.evaluate(len(dataset))


def original_pseudo_labels(model, dataset_cfg, out_dir, batch_size,
                           num_workers, quantile=0.5, cap=0.9):
    """BDL's SSL.py: whole-set float64 arrays, per-class medians."""
    dataset, loader = _loader(dataset_cfg, 1, num_workers)
    suffix = getattr(dataset, 'img_suffix', '_leftImg8bit.png')
    names, predicted_label, predicted_prob = [], None, None
    model.eval()
    with torch.no_grad():
        for index, batch in enumerate(loader):
            size = batch['data_samples'][0].img_shape[:2]
            output = F.softmax(_main_logits(model, batch), dim=1)
            output = F.interpolate(output, size=size, mode='bilinear',
                                   align_corners=True)
            output = output.cpu().numpy()[0].transpose(1, 2, 0)
            if predicted_label is None:
                predicted_label = np.zeros((len(dataset), *size))
                predicted_prob = np.zeros((len(dataset), *size))
                num_classes = output.shape[2]
            predicted_label[index] = np.argmax(output, axis=2)
            predicted_prob[index] = np.max(output, axis=2)
            names.append(image_key(batch['data_samples'][0].img_path,
                                   suffix))
    thres = []
    for i in range(num_classes):
        x = predicted_prob[predicted_label == i]
        if len(x) == 0:
            thres.append(0)
            continue
        x = np.sort(x)
        thres.append(x[int(np.round(len(x) * quantile))])
    thres = np.minimum(np.array(thres), cap)
    for index, name in enumerate(names):
        label = predicted_label[index]
        prob = predicted_prob[index]
        for i in range(num_classes):
            label[(prob < thres[i]) * (label == i)] = 255
        path = osp.join(out_dir, 'labels', f'{name}.png')
        os.makedirs(osp.dirname(path), exist_ok=True)
        cv2.imwrite(path, label.astype(np.uint8))


RUNNERS = dict(
    ranker=dict(ours=ours_ranker, original=original_ranker),
    pseudo_labels=dict(ours=ours_pseudo_labels,
                       original=original_pseudo_labels))


def benchmark_inference(model: nn.Module, cfg, task: str, num_images: int,
                        device: torch.device, batch_size: int = 1,
                        num_workers: int = 0,
                        progress: bool = True) -> Dict:
    """Time ours and the original loop of ``task`` on N and 2N images.

    Args:
        model (nn.Module): The (UDA) model, on ``device``.
        cfg (Config): Its config (the target images come from
            :func:`ranking_dataset_cfg`).
        task (str): ``'ranker'`` or ``'pseudo_labels'``.
        num_images (int): N.
        device (torch.device): The model's device.
        batch_size (int): Images per forward pass of ours (the originals
            run one image at a time).
        num_workers (int): Dataloader workers of both.
        progress (bool): One status line per run on stderr.

    Returns:
        dict: ``task``, ``model`` and ``rows`` (``side``, ``images``,
        ``seconds``, ``images_per_s``, ``peak_rss_mb``, ``rss_growth_mb``,
        ``peak_cuda_mb``).
    """
    if task not in TASKS:
        raise ValueError(f'task must be one of {TASKS}, got {task!r}')
    find_segmentor(model)  # fail before any work
    subset_dataset_cfg(cfg, 2 * num_images)
    rows: List[Dict] = []
    was_training = model.training
    bar = ProgressBar(4, file=sys.stderr) if progress else None
    with PeakMemorySampler(device=device) as sampler:
        for num in (num_images, 2 * num_images):
            dataset_cfg = subset_dataset_cfg(cfg, num)
            for side, run in RUNNERS[task].items():
                out_dir = tempfile.mkdtemp(prefix=f'{task}_{side}_')
                try:
                    with sampler.phase() as memory:
                        start = time.perf_counter()
                        run(model, dataset_cfg, out_dir, batch_size,
                            num_workers)
                        if device.type == 'cuda':
                            torch.cuda.synchronize(device)
                        seconds = time.perf_counter() - start
                finally:
                    shutil.rmtree(out_dir, ignore_errors=True)
                rows.append(dict(
                    side=side, images=num, seconds=seconds,
                    images_per_s=num / seconds,
                    peak_rss_mb=memory.peak_rss / MB,
                    rss_growth_mb=memory.growth / MB,
                    peak_cuda_mb=None if memory.cuda_peak is None else
                    memory.cuda_peak / MB))
                if bar is not None:
                    bar.update()
    if bar is not None:
        sys.stderr.write('\n')
    model.train(was_training)
    return dict(task=task, model=type(getattr(model, 'module', model)
                                      ).__name__, rows=rows)
