"""DAFormer's feature distance and pseudo-label crop, re-stated for tests.

Re-stated with plain torch from reading lhoyer/MIC, folder ``seg/``:

- ``mmseg/utils/utils.py``: ``downscale_label_ratio``;
- ``mmseg/models/uda/dacs.py``: ``DACS.masked_feat_dist``, the single-scale
  branch of ``DACS.calc_feat_dist`` (last level, mask of
  ``imnet_feature_dist_classes`` on the label downscaled by
  ``label width // feature width``, times ``imnet_feature_dist_lambda``)
  and ``DACS.filter_valid_pseudo_region`` (in place, before the mixing).

The numbers of DAFormer's config
``seg/configs/daformer/gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py``
are listed below as the tests pin them.
"""
import torch
import torch.nn.functional as F
from torch import Tensor

#: From ``gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py``.
DAFORMER_CONFIG = dict(
    imnet_feature_dist_lambda=0.005,
    imnet_feature_dist_classes=[6, 7, 11, 12, 13, 14, 15, 16, 17, 18],
    imnet_feature_dist_scale_min_ratio=0.75,
    pseudo_weight_ignore_top=15,
    pseudo_weight_ignore_bottom=120)


def ref_downscale_label_ratio(gt: Tensor, scale_factor: int,
                              min_ratio: float, n_classes: int,
                              ignore_index: int = 255) -> Tensor:
    """Majority class per block by one-hot average pooling; ignore where the
    winner is the ignore stand-in or its share is below ``min_ratio``."""
    assert scale_factor > 1 and gt.shape[1] == 1
    lab = gt.clone()
    lab[lab == ignore_index] = n_classes
    hot = F.one_hot(lab[:, 0], num_classes=n_classes + 1)
    pooled = F.avg_pool2d(hot.permute(0, 3, 1, 2).float(), scale_factor)
    share, cls = torch.max(pooled, dim=1, keepdim=True)
    cls[cls == n_classes] = ignore_index
    cls[share < min_ratio] = ignore_index
    return cls


def ref_masked_feat_dist(f1: Tensor, f2: Tensor, mask=None) -> Tensor:
    """Mean over (masked) pixels of the channel L2 norm of ``f1 - f2``."""
    dist = torch.norm(f1 - f2, dim=1, p=2)
    if mask is not None:
        dist = dist[mask.squeeze(1)]
    return torch.mean(dist)


def ref_calc_feat_dist(feat, feat_imnet, gt: Tensor, classes, min_ratio,
                       n_classes: int, lam: float) -> Tensor:
    """The single-scale branch of ``calc_feat_dist``, weighted."""
    f, fi = feat[-1], feat_imnet[-1].detach()
    if classes is None:
        return lam * ref_masked_feat_dist(f, fi)
    scale = gt.shape[-1] // f.shape[-1]
    small = ref_downscale_label_ratio(gt, scale, min_ratio, n_classes,
                                      255).long()
    cls = torch.tensor(classes, device=gt.device)
    mask = torch.any(small[..., None] == cls, -1)
    return lam * ref_masked_feat_dist(f, fi, mask)


def ref_filter_valid_pseudo_region(pseudo_weight: Tensor, top: int,
                                   bottom: int) -> Tensor:
    """Zero the top and bottom rows of the weight, in place."""
    if top > 0:
        pseudo_weight[:, :top, :] = 0
    if bottom > 0:
        pseudo_weight[:, -bottom:, :] = 0
    return pseudo_weight
