"""Evaluate demo checkpoints per class and draw their predictions."""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, load_checkpoint
from mmengine.utils import ProgressBar
from mmseg.evaluation import IoUMetric
from mmseg.registry import MODELS

from mmseg_uda.utils import mmengine_checkpoint_globals
from mmseg_uda.utils.atomic_io import atomic_write_png


def load_model(cfg: Config, checkpoint: str) -> torch.nn.Module:
    """Build ``cfg.model`` and load ``checkpoint`` into it (eval mode)."""
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(cfg.model)
    with mmengine_checkpoint_globals():
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    return model.eval()


def evaluate_per_class(model: torch.nn.Module, dataloader_cfg: dict,
                       num_classes: int,
                       keep: int = 0) -> Dict[str, object]:
    """Per-class IoU of ``model`` on a dataset, with mmseg's IoU arithmetic.

    Args:
        model (nn.Module): A segmentor in eval mode.
        dataloader_cfg (dict): Dataloader config of the evaluation set.
        num_classes (int): Number of classes.
        keep (int): Number of (image, label, prediction) triples to keep
            for pictures, from the start of the set.

    Returns:
        dict: ``iou`` (per-class IoU in percent, numpy), ``miou`` (percent)
        and ``samples`` (the kept triples; images in BGR).
    """
    loader = Runner.build_dataloader(dataloader_cfg)
    totals = [torch.zeros(num_classes, dtype=torch.float64) for _ in range(4)]
    samples: List[tuple] = []
    bar = ProgressBar(len(loader.dataset))
    with torch.no_grad():
        for batch in loader:
            for out in model.test_step(batch):
                pred = out.pred_sem_seg.data.squeeze(0).cpu()
                label = out.gt_sem_seg.data.squeeze(0).cpu()
                areas = IoUMetric.intersect_and_union(pred, label,
                                                      num_classes, 255)
                for total, area in zip(totals, areas):
                    total += area.double()
                if len(samples) < keep:
                    img = cv2.imread(out.img_path, cv2.IMREAD_COLOR)
                    samples.append((img, label.numpy(), pred.numpy()))
                bar.update()
    print()
    iou = (totals[0] / totals[1]).numpy() * 100
    return dict(iou=iou, miou=float(np.nanmean(iou)), samples=samples)


def format_table(class_names: Sequence[str],
                 columns: Dict[str, np.ndarray]) -> str:
    """A plain-text table: one row per class plus mIoU, one column each.

    Args:
        class_names (Sequence[str]): Row names.
        columns (dict[str, np.ndarray]): Column title -> per-class IoU (%).

    Returns:
        str: The table.
    """
    titles = list(columns)
    width = max(len(t) for t in titles + ['mIoU']) + 2
    name_w = max(len(c) for c in list(class_names) + ['class']) + 2
    lines = ['class'.ljust(name_w) + ''.join(t.rjust(width) for t in titles)]
    lines.append('-' * len(lines[0]))
    for i, name in enumerate(class_names):
        lines.append(name.ljust(name_w) + ''.join(
            f'{columns[t][i]:.1f}'.rjust(width) for t in titles))
    lines.append('-' * len(lines[0]))
    lines.append('mIoU'.ljust(name_w) + ''.join(
        f'{np.nanmean(columns[t]):.1f}'.rjust(width) for t in titles))
    return '\n'.join(lines)


def colorize(label: np.ndarray, palette: Sequence[Sequence[int]]
             ) -> np.ndarray:
    """Paint a label map with an RGB palette (255 -> black); returns BGR."""
    lut = np.zeros((256, 3), dtype=np.uint8)
    lut[:len(palette)] = np.asarray(palette, dtype=np.uint8)
    return lut[label.astype(np.uint8)][..., ::-1]


def _titled(img: np.ndarray, title: str) -> np.ndarray:
    bar = np.full((18, img.shape[1], 3), 255, dtype=np.uint8)
    cv2.putText(bar, title, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, img], axis=0)


def write_prediction_grid(path: str, images: Sequence[np.ndarray],
                          labels: Sequence[np.ndarray],
                          predictions: Dict[str, Sequence[np.ndarray]],
                          palette: Sequence[Sequence[int]],
                          gap: int = 4) -> None:
    """Write rows of image | label | prediction(s) as one PNG, atomically.

    Args:
        path (str): Output PNG path.
        images (Sequence[np.ndarray]): BGR images.
        labels (Sequence[np.ndarray]): Ground-truth label maps.
        predictions (dict[str, Sequence[np.ndarray]]): Column title ->
            predicted label maps, aligned with ``images``.
        palette (Sequence[Sequence[int]]): RGB colour per class.
        gap (int): White pixels between panels.
    """
    rows = []
    for i, (img, label) in enumerate(zip(images, labels)):
        panels = [('image', img), ('label', colorize(label, palette))]
        panels += [(title, colorize(preds[i], palette))
                   for title, preds in predictions.items()]
        white = np.full((img.shape[0] + 18, gap, 3), 255, dtype=np.uint8)
        row = []
        for title, panel in panels:
            row += [_titled(panel, title), white]
        rows.append(np.concatenate(row[:-1], axis=1))
        rows.append(np.full((gap, rows[-1].shape[1], 3), 255, np.uint8))
    atomic_write_png(path, np.concatenate(rows[:-1], axis=0))


def latest_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint mmengine's ``last_checkpoint`` file points to."""
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        return None
    with open(marker) as f:
        path = f.read().strip()
    return path if osp.isfile(path) else None
