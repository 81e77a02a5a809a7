"""Re-statements of CycleGAN's lr schedule and ``scale_width`` as BDL ran them.

BDL's ``cyclegan/readme.md`` trains junyanz/pytorch-CycleGAN-and-pix2pix of
2018 (``--niter``/``--niter_decay``, ``--loadSize``/``--fineSize``,
``--resize_or_crop scale_width_and_crop``) with BDL's ``networks.py``.
Written from BDL's ``cyclegan/networks.py`` (``get_scheduler``,
``lr_policy='lambda'``), CycleGAN's ``train.py`` of that time (the epoch loop
calling ``model.update_learning_rate()`` at the end of each epoch) and its
``data/base_dataset.py`` (``__scale_width``); used only as a reference in
tests.
"""
from typing import List

import torch
from PIL import Image


def cyclegan_epoch_lrs(lr: float, niter: int, niter_decay: int,
                       epoch_count: int = 1) -> List[float]:
    """The lr each epoch trains with, epochs ``epoch_count..niter+decay``."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([param], lr=lr)

    def lambda_rule(epoch):
        return 1.0 - max(0, epoch + 1 + epoch_count - niter) / float(
            niter_decay + 1)

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda_rule)
    lrs = []
    for _ in range(epoch_count, niter + niter_decay + 1):
        lrs.append(optimizer.param_groups[0]['lr'])
        optimizer.step()  # the epoch's iterations
        scheduler.step()  # update_learning_rate() at the end of the epoch
    return lrs


def scale_width(img: Image.Image, target_width: int) -> Image.Image:
    """``__scale_width``: the width to ``target_width``, bicubic.

    ``int(target_width * oh / ow)`` under BDL's Python 2 divides integers.
    """
    ow, oh = img.size
    if ow == target_width:
        return img
    w = target_width
    h = target_width * oh // ow
    return img.resize((w, h), Image.BICUBIC)
