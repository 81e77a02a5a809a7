"""Tiny translator configs and frozen-segmentor files for the tests."""
import os.path as osp

import torch
from mmengine.registry import init_default_scope

import mmseg_uda  # noqa: F401
import mmseg_uda.models.translators  # noqa: F401
from mmseg.registry import MODELS
from mmseg_uda.models.translators.perceptual_loss import \
    build_frozen_segmentor

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
SEGMENTOR_CONFIG = 'configs/adaptseg/deeplabv2_r101_gta2cs.py'


def write_tiny_segmentor(tmp_dir: str, seed: int = 0) -> tuple:
    """A tiny R18 override of the AdaptSegNet config and a UDA checkpoint.

    Returns:
        tuple: (config path, checkpoint path, the segmentor's state dict).
    """
    config = osp.join(tmp_dir, 'tiny_segmentor.py')
    with open(config, 'w') as f:
        f.write(
            f"_base_ = ['{osp.join(REPO_ROOT, SEGMENTOR_CONFIG)}']\n"
            'model = dict(segmentor=dict(\n'
            '    backbone=dict(depth=18, base_channels=16, '
            'stem_channels=16, init_cfg=None),\n'
            '    decode_head=dict(in_channels=128),\n'
            '    auxiliary_head=dict(in_channels=64)))\n')
    init_default_scope('mmseg')
    torch.manual_seed(seed)
    segmentor = build_frozen_segmentor(config, None)
    state = {k: v.clone() for k, v in segmentor.state_dict().items()}
    # a UDA checkpoint: segmentor.* beside discriminator weights
    ckpt = {f'segmentor.{k}': v for k, v in state.items()}
    ckpt['discriminators.main.weight'] = torch.zeros(2)
    checkpoint = osp.join(tmp_dir, 'tiny_segmentor.pth')
    torch.save(dict(state_dict=ckpt, meta=dict()), checkpoint)
    return config, checkpoint, state


def tiny_translator_cfg(perceptual_segmentor=None, **kwargs) -> dict:
    """A CycleGANTranslator config with 8-channel nets and 2 blocks."""
    return dict(
        type='CycleGANTranslator',
        generator=dict(type='ResnetGenerator', base_channels=8,
                       num_blocks=2),
        discriminator=dict(type='PatchDiscriminator', base_channels=8,
                           num_layers=3),
        perceptual_segmentor=perceptual_segmentor,
        data_preprocessor=dict(type='UDASegDataPreProcessor',
                               mean=[127.5] * 3, std=[127.5] * 3,
                               bgr_to_rgb=True, size_divisor=4),
        pool_seed=0,
        **kwargs)


def build_translator(**kwargs):
    init_default_scope('mmseg')
    return MODELS.build(tiny_translator_cfg(**kwargs))
