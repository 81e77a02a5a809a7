"""Configs of the GPU check: the shipped method bases on the demo model and
the demo data, written into the check's work dir.

Each config is composed the way the shipped configs are (model base, data
base, runtime, method base), with the light DeepLab-v2 of ``make demo``
(``configs/_base_/models/deeplabv2_r18_tiny.py``) and the demo street
dataset (``configs/_base_/datasets/demo_street.py``) in place of R101 and
GTA5/Cityscapes, and loaders pointed at the generated demo data.
"""
import os
import os.path as osp
from typing import Dict, Tuple

from mmseg_uda.utils.atomic_io import atomic_write_text

# the method bases composed with the demo model and data: (schedule, method)
METHOD_BASES = dict(
    minent=('configs/_base_/schedules/schedule_minent_120k.py',
            'configs/_base_/uda/minent.py'),
    advent=('configs/_base_/schedules/schedule_advent_120k.py',
            'configs/_base_/uda/advent.py'),
    dacs=('configs/_base_/schedules/schedule_dacs_40k.py',
          'configs/_base_/uda/dacs.py'),
)
DEMO_ADAPTSEG = 'configs/demo/deeplabv2_r18_tiny_adaptseg_demo.py'
TRANSLATOR = 'configs/bdl/cyclegan_perceptual_gta2cs.py'
DEMO_MODEL = 'configs/_base_/models/deeplabv2_r18_tiny.py'
DEMO_DATA = 'configs/_base_/datasets/demo_street.py'
RUNTIME = 'configs/_base_/default_runtime.py'

_METHOD = """_base_ = [
    {model!r},
    {data!r},
    {runtime!r},
    {schedule!r},
    {method!r},
]
num_classes = 7
model = dict(
    _delete_=True,
    segmentor=dict(
        _base_.model,
        decode_head=dict(_base_.model.decode_head, num_classes=num_classes),
        auxiliary_head={aux}),
    **_base_.uda)
train_dataloader = dict(_delete_=True, **_base_.uda_train_dataloader)
"""
_AUX = 'dict(_base_.model.auxiliary_head, num_classes=num_classes)'

_LOADERS = """train_dataloader = dict(
    batch_size={batch}, num_workers={workers}, persistent_workers=False,
    dataset=dict(source=dict(data_root={source!r}),
                 target=dict(data_root={target!r})))
val_dataloader = dict(
    batch_size={batch}, num_workers={workers}, persistent_workers=False,
    dataset=dict(data_root={target!r}))
test_dataloader = val_dataloader
train_cfg = dict(max_iters={iters}, val_interval={iters})
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval={ckpt_interval}, max_keep_ckpts=10,
                    save_best=None))
randomness = dict(seed=0)
"""

# BDL's self-training on the demo AdaptSegNet: the target images carry the
# pseudo-labels of the current round (none before the first one).
_SELF_TRAINING = """model = dict(ssl_weights=dict(main=1.0))
train_dataloader = dict(dataset=dict(target=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='LoadPseudoLabels', label_dir={labels!r} + '/current',
         optional=True),
    dict(type='PackSegInputs'),
])))
custom_hooks = [
    dict(type='PseudoLabelRoundsHook', label_root={labels!r},
         rounds_at={rounds_at!r}, rule=dict(rule='bdl', quantile=0.5,
                                            cap=0.9),
         initial_labels=None),
]
"""

# BDL's translator, small: narrow generators and discriminators, small
# crops; the perceptual loss of a randomly initialised demo segmentor.
_TRANSLATOR = """_base_ = [{translator!r}]
model = dict(
    generator=dict(base_channels={channels}, num_blocks=2),
    discriminator=dict(base_channels={channels}),
    perceptual_segmentor=dict(config={segmentor!r}, checkpoint=None))
translator_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=({load}, {load}), keep_ratio=True,
         interpolation='bicubic', backend='pillow'),
    dict(type='RandomCrop', crop_size=({crop}, {crop})),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size={batch}, num_workers={workers}, persistent_workers=False,
    dataset=dict(
        source=dict(data_root={source!r}, pipeline=translator_pipeline),
        target=dict(data_root={target!r}, pipeline=translator_pipeline)))
train_cfg = dict(max_iters={iters}, val_interval={iters} + 1)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval={ckpt_interval}, max_keep_ckpts=10))
randomness = dict(seed=0)
"""


def _abs(repo: str, path: str) -> str:
    return osp.join(repo, path)


def loader_settings(data_root: str, iters: int, batch: int, workers: int,
                    ckpt_interval: int) -> str:
    """Config text pointing the demo loaders at ``data_root``."""
    return _LOADERS.format(
        batch=batch, workers=workers, iters=iters,
        ckpt_interval=ckpt_interval,
        source=osp.join(data_root, 'source'),
        target=osp.join(data_root, 'target'))


def write_config(path: str, text: str) -> str:
    """Write a config file atomically; return its path."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    atomic_write_text(path, text)
    return path


def demo_configs(repo: str, out_dir: str, data_root: str, label_root: str,
                 iters: Dict[str, int], batch: int, workers: int,
                 crop: Tuple[int, int]) -> Dict[str, str]:
    """Write the check's configs; return their paths by name.

    Args:
        repo (str): Repository root (the shipped configs).
        out_dir (str): Where to write them.
        data_root (str): The demo data (``source/`` and ``target/``).
        label_root (str): The self-training run's pseudo-label root.
        iters (dict): Iterations per kind: ``adaptseg``, ``method``,
            ``self_training``, ``translator``.
        batch (int): Images per domain and batch.
        workers (int): Dataloader workers.
        crop (tuple): ``(load, crop)`` sizes of the translator.

    Returns:
        dict[str, str]: ``adaptseg``, ``minent``, ``advent``, ``dacs``,
        ``self_training`` and ``translator`` config paths.
    """
    paths = {}
    n = iters['adaptseg']
    paths['adaptseg'] = write_config(
        osp.join(out_dir, 'adaptseg_demo.py'),
        f'_base_ = [{_abs(repo, DEMO_ADAPTSEG)!r}]\n' + loader_settings(
            data_root, n, batch, workers, ckpt_interval=n))
    for name, (schedule, method) in METHOD_BASES.items():
        n = iters['method']
        text = _METHOD.format(
            model=_abs(repo, DEMO_MODEL), data=_abs(repo, DEMO_DATA),
            runtime=_abs(repo, RUNTIME), schedule=_abs(repo, schedule),
            method=_abs(repo, method),
            # DACS runs single-level, as the shipped DACS configs
            aux='None' if name == 'dacs' else _AUX)
        # the loaders merge into the composed config, so it is a base
        base = write_config(osp.join(out_dir, f'{name}_demo_model.py'), text)
        paths[name] = write_config(
            osp.join(out_dir, f'{name}_demo.py'),
            f'_base_ = [{base!r}]\n' + loader_settings(
                data_root, n, batch, workers, ckpt_interval=n))
    n = iters['self_training']
    paths['self_training'] = write_config(
        osp.join(out_dir, 'self_training_demo.py'),
        f'_base_ = [{paths["adaptseg"]!r}]\n' +
        _SELF_TRAINING.format(labels=label_root, rounds_at=[1]) +
        f'train_cfg = dict(max_iters={n}, val_interval={n})\n'
        f'default_hooks = dict(checkpoint=dict(interval={n}))\n')
    n = iters['translator']
    load, size = crop
    paths['translator'] = write_config(
        osp.join(out_dir, 'translator_demo.py'),
        _TRANSLATOR.format(
            translator=_abs(repo, TRANSLATOR),
            segmentor=paths['adaptseg'], channels=8, load=load, crop=size,
            batch=batch, workers=workers, iters=n,
            ckpt_interval=max(1, n // 2),
            source=osp.join(data_root, 'source'),
            target=osp.join(data_root, 'target')))
    return paths
