"""Records what every shipped config builds and computes in one train step.

The record is the evidence that a change of structure left behaviour alone:
for each leaf config under ``configs/`` it holds the model's parameter and
buffer names and shapes, the loss values of one train step on a fixed tiny
batch, and digests of the weights before and after that step. It was written
once before the structure refactor::

    python -m tests.test_configs.behaviour_record --write

and ``test_behaviour_unchanged.py`` rebuilds the same numbers and compares.

Digests, not weights: per tensor the float64 sum, the sum of squares and the
dot product with a fixed pseudo-random vector, of the initial values and of
the change made by the step (the change of a small learning rate would vanish
in a digest of the weights themselves).

HRDA's sizes do not fit the tiny batch (a 512x512 detail crop, 1024x1024
test windows, batches padded to 1024x1024): for a config whose segmentor is
an ``HRDAEncoderDecoder`` the record pads the batch to ``HRDA_RECORD_PAD``
and shrinks the sizes as ``HRDA_RECORD`` says (MIC's mask blocks with
them, ``HRDA_RECORD_MASK_BLOCK``); every other number is the config's.
Records of other configs are unaffected.
"""
import argparse
import copy
import glob
import gzip
import json
import logging
import os
import os.path as osp
import tempfile
from typing import Dict, List

import numpy as np
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RECORD_DIR = osp.join(ROOT, 'tests', 'data', 'behaviour')
SIZE = (33, 41)  # odd on purpose: exercises the upsampling paths
# HRDA's sizes in its records: the batch padded to 64x64, a 32x32 detail
# crop (offsets divisible by 8, as HRDA's; MiT's first stage needs 32
# pixels), 32x32 pseudo-label windows at stride 16, 64x64 test windows at
# stride 32; MIC's blocks 16x16
HRDA_RECORD_PAD = (64, 64)
HRDA_RECORD = dict(
    hr_crop_size=(32, 32),
    crop_coord_divisible=8,
    test_cfg=dict(mode='slide', batched_slide=True, stride=(32, 32),
                  crop_size=(64, 64)))
HRDA_RECORD_MASK_BLOCK = 16


def shipped_configs() -> List[str]:
    """Leaf configs under ``configs/``, relative to the repository."""
    return sorted(
        osp.relpath(p, ROOT)
        for p in glob.glob(osp.join(ROOT, 'configs/**/*.py'), recursive=True)
        if '_base_' not in p)


def record_name(config: str) -> str:
    """File name of a config's record."""
    return config[len('configs/'):-len('.py')].replace('/', '__') + '.json.gz'


def _domain(gen: torch.Generator, num: int, classes: int, labelled: bool):
    inputs, samples = [], []
    for _ in range(num):
        inputs.append(torch.randint(0, 256, (3, *SIZE), generator=gen,
                                    dtype=torch.uint8))
        sample = SegDataSample()
        label = torch.randint(0, classes, (1, *SIZE), generator=gen)
        label[:, :4, :6] = 255
        if labelled:
            sample.gt_sem_seg = PixelData(data=label)
        sample.set_metainfo(dict(img_shape=SIZE, ori_shape=SIZE,
                                 pad_shape=SIZE))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def tiny_batch(model_cfg: dict, classes: int, uda: bool) -> dict:
    """The fixed batch of a config: two images per domain."""
    gen = torch.Generator().manual_seed(1234)
    if not uda:
        return _domain(gen, 2, classes, True)
    source = _domain(gen, 2, classes, True)
    # target labels only for models that train on them (pseudo-labels)
    target = _domain(gen, 2, classes, bool(model_cfg.get('ssl_weights')))
    return dict(source=source, target=target)


def _digest(tensor: torch.Tensor) -> List[float]:
    flat = tensor.detach().double().flatten()
    gen = torch.Generator().manual_seed(flat.numel())
    probe = torch.rand(flat.numel(), generator=gen, dtype=torch.float64)
    return [float(f'{x:.10g}') for x in (
        flat.sum().item(), (flat * flat).sum().item(),
        (flat * probe).sum().item())]


def _state(model: torch.nn.Module) -> Dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()
            if torch.is_tensor(v) and v.is_floating_point()}


def _checkpoint_of(config: str, tmp: str, dilations=None) -> str:
    """A checkpoint of the segmentor a config builds, seeded."""
    cfg = Config.fromfile(osp.join(ROOT, config))
    seg_cfg = copy.deepcopy(cfg.model.get('segmentor', cfg.model))
    seg_cfg.backbone.init_cfg = None
    if dilations is not None:
        seg_cfg.decode_head.dilations = dilations
    torch.manual_seed(7)
    seg = MODELS.build(seg_cfg)
    path = osp.join(tmp, record_name(config) + '.pth')
    torch.save(dict(state_dict=seg.state_dict(), meta=dict()), path)
    return path


def _prepare(cfg: Config, tmp: str) -> Config:
    """Offline stand-ins: no pretrained download, seeded member files."""
    model = cfg.model
    if model.type == 'EnsembleSegmentor':
        for member in model.members:
            member.config = osp.join(ROOT, 'configs/advent',
                                     osp.basename(member.config))
            member.checkpoint = _checkpoint_of(
                osp.relpath(member.config, ROOT), tmp)
        return cfg
    if model.type == 'CycleGANTranslator':
        per = model.perceptual_segmentor
        per.checkpoint = _checkpoint_of(per.config, tmp, per.dilations)
        per.config = osp.join(ROOT, per.config)
        return cfg
    seg_cfg = model.get('segmentor', model)
    seg_cfg.backbone.init_cfg = None
    if seg_cfg.type == 'HRDAEncoderDecoder':
        seg_cfg.update(copy.deepcopy(HRDA_RECORD))
        seg_cfg.data_preprocessor.size = HRDA_RECORD_PAD
        if model.get('mask_consistency') is not None:
            model.mask_consistency.mask_generator.mask_block_size = \
                HRDA_RECORD_MASK_BLOCK
    return cfg


def record(config: str) -> dict:
    """Names, shapes, losses and weight digests of one train step.

    Runs on one thread, as the records were written: sums over other
    thread counts differ in the last bits.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _record(config)
    finally:
        torch.set_num_threads(threads)


def _record(config: str) -> dict:
    init_default_scope('mmseg')
    with tempfile.TemporaryDirectory() as tmp:
        cfg = _prepare(Config.fromfile(osp.join(ROOT, config)), tmp)
        torch.manual_seed(0)
        model = MODELS.build(copy.deepcopy(cfg.model))
        model.init_weights()
    out = dict(
        config=config,
        parameters={k: list(v.shape) for k, v in model.named_parameters()},
        buffers={k: list(v.shape) for k, v in model.named_buffers()})
    before = _state(model)
    out['initial'] = {k: _digest(v) for k, v in before.items()}
    if cfg.model.type == 'EnsembleSegmentor':
        # test only: the record is its prediction of the fixed batch
        batch = tiny_batch(cfg.model, 19, False)
        model.eval()
        with torch.no_grad():
            preds = model.test_step(batch)
        out['predictions'] = [_digest(p.seg_logits.data) for p in preds]
        return out
    seg_cfg = cfg.model.get('segmentor', cfg.model)
    classes = seg_cfg.decode_head.num_classes if 'decode_head' in seg_cfg \
        else 19
    uda = 'segmentor' in cfg.model or cfg.model.type == 'CycleGANTranslator'
    batch = tiny_batch(cfg.model, classes, uda)
    optim_wrapper = build_optim_wrapper(model, copy.deepcopy(
        cfg.optim_wrapper))
    model.train()
    torch.manual_seed(1)
    # HRDA draws its detail crop from numpy's global generator
    np.random.seed(1)
    log_vars = model.train_step(batch, optim_wrapper)
    out['losses'] = {k: float(f'{float(v):.10g}')
                     for k, v in sorted(log_vars.items())}
    after = _state(model)
    out['update'] = {k: _digest(after[k] - before[k]) for k in before}
    return out


def load(config: str) -> dict:
    """The stored record of a config."""
    with gzip.open(osp.join(RECORD_DIR, record_name(config)), 'rt') as f:
        return json.load(f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--write', action='store_true',
                        help=f'write the records to {RECORD_DIR}')
    parser.add_argument('configs', nargs='*', help='default: every config')
    args = parser.parse_args()
    logging.getLogger('mmengine').setLevel(logging.WARNING)
    os.makedirs(RECORD_DIR, exist_ok=True)
    for config in args.configs or shipped_configs():
        result = record(config)
        text = json.dumps(result, sort_keys=True, separators=(',', ':'))
        print(config, result.get('losses', 'predictions recorded'))
        if args.write:
            path = osp.join(RECORD_DIR, record_name(config))
            with gzip.open(path + '.tmp', 'wt') as f:
                f.write(text)
            os.replace(path + '.tmp', path)


if __name__ == '__main__':
    main()
