"""Build our models from the shipped configs for tests."""
import os.path as osp
from typing import Optional

from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmseg_uda  # noqa: F401  (registers our components)
from mmseg.registry import MODELS

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_config(rel_path: str) -> Config:
    """Load a config of the repository by its path relative to the root."""
    return Config.fromfile(osp.join(REPO_ROOT, rel_path))


def build_deeplabv2(num_classes: int = 19,
                    dilations: Optional[tuple] = None,
                    multi_level: bool = True,
                    depth: int = 101):
    """Build the shipped DeepLab-v2 model config without pretrained init."""
    cfg = load_config('configs/_base_/models/deeplabv2_r101.py').model
    cfg.backbone.init_cfg = None
    cfg.backbone.depth = depth
    for head in (cfg.decode_head, cfg.auxiliary_head):
        head.num_classes = num_classes
        if dilations is not None:
            head.dilations = dilations
    if not multi_level:
        cfg.auxiliary_head = None
    init_default_scope('mmseg')
    model = MODELS.build(cfg)
    model.init_weights()
    return model
