"""Peak memory of a config's training iterations, with and without the
memory options (activation checkpointing, mixed precision).

Usage::

    python benchmarks/train_memory.py CONFIG [--variants fp32 cp amp amp-cp]
        [--iters 2] [--batch N] [--crop H W] [--device {cpu,cuda}]
        [--amp-dtype {float16,bfloat16}] [--json PATH]
        [--cfg-options KEY=VALUE ...]

Each variant runs in a fresh process: the model the config builds (random
initialisation: no pretrained file is read), its optimizer wrappers and
``--iters`` training steps (``model.train_step``, hooks not run) on a
synthetic batch of the config's size: the train loader's batch size and the
``crop_size`` the config defines (or ``--batch``/``--crop``; ``--crop`` also
sets the size the data preprocessor pads to). The variants:

- ``fp32``: the config as it is;
- ``cp``: activation checkpointing in the backbone (``with_cp=True``, which
  mmseg's MiT and ResNet backbones take): their blocks' activations are
  recomputed in the backward pass instead of kept;
- ``amp``: mixed precision, every optimizer wrapper an ``AmpOptimWrapper``
  (CUDA only, as ``tools/train.py --amp``);
- ``amp-cp``: both.

The table gives, per variant, the peak memory and the seconds per step. On
a GPU the peak is ``torch.cuda.max_memory_allocated`` from before the model
is built (weights, gradients, optimizer state and activations); on the CPU
it is the process RSS high-water minus the RSS before the model is built.
"""
import argparse
import json
import logging
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

VARIANTS = ('fp32', 'cp', 'amp', 'amp-cp')
MB = float(1 << 20)


def parse_args(argv=None) -> argparse.Namespace:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Peak memory of training steps per memory option')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--variants', nargs='+', default=['fp32', 'cp'],
                        choices=VARIANTS, help='default: fp32 cp')
    parser.add_argument('--iters', type=int, default=2,
                        help='training steps per variant (the first one '
                        'also creates the optimizer state)')
    parser.add_argument('--batch', type=int,
                        help="images per domain; default: the config's "
                        'train_dataloader.batch_size')
    parser.add_argument('--crop', type=int, nargs=2, metavar=('H', 'W'),
                        help="default: the config's crop_size")
    parser.add_argument('--device', choices=['cpu', 'cuda'], default=None,
                        help='default: cuda when available, else cpu')
    parser.add_argument('--amp-dtype', choices=('float16', 'bfloat16'),
                        default=None, help='autocast dtype of the amp '
                        'variants (default float16)')
    parser.add_argument('--json', help='also write the figures here')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value (as tools/train.py)')
    parser.add_argument('--one-variant', choices=VARIANTS,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.iters < 1 or (args.batch is not None and args.batch < 1):
        parser.error('--iters and --batch must be >= 1')
    if not osp.isfile(args.config):
        parser.error(f'config file not found: {args.config}')
    return args


def load_config(args: argparse.Namespace):
    """The config with ``--cfg-options``, and its batch and crop size.

    Raises:
        SystemExit: If the config is not a segmentation training config or
            its batch/crop size cannot be found.
    """
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    seg_cfg = cfg.model.get('segmentor', cfg.model)
    if 'backbone' not in seg_cfg or 'decode_head' not in seg_cfg:
        sys.exit(f'error: {args.config}: model.segmentor (or model) is not a '
                 'segmentor with a backbone and a decode_head')
    batch = args.batch or cfg.get('train_dataloader', {}).get('batch_size')
    crop = args.crop or cfg.get('crop_size')
    if batch is None or crop is None:
        sys.exit(f'error: {args.config} defines no train_dataloader.'
                 'batch_size or crop_size: give --batch and --crop')
    return cfg, seg_cfg, int(batch), tuple(int(c) for c in crop)


def synthetic_batch(batch: int, crop, num_classes: int, uda: bool) -> dict:
    """Random uint8 images and labels of one training batch."""
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    gen = torch.Generator().manual_seed(0)

    def domain():
        inputs, samples = [], []
        for _ in range(batch):
            inputs.append(torch.randint(0, 256, (3, *crop), generator=gen,
                                        dtype=torch.uint8))
            sample = SegDataSample(gt_sem_seg=PixelData(data=torch.randint(
                0, num_classes, (1, *crop), generator=gen)))
            sample.set_metainfo(dict(img_shape=crop, ori_shape=crop,
                                     pad_shape=crop))
            samples.append(sample)
        return dict(inputs=inputs, data_samples=samples)

    return dict(source=domain(), target=domain()) if uda else domain()


def run_variant(args: argparse.Namespace, variant: str) -> dict:
    """Build the model of the config and run ``--iters`` training steps;
    return the figures of this process."""
    import torch
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import mmseg_uda  # noqa: F401  (registers the modules)
    from benchmarks.lib.peak_memory import PeakMemorySampler
    from mmseg_uda.utils import enable_amp

    logging.getLogger('mmengine').setLevel(logging.WARNING)
    cfg, seg_cfg, batch, crop = load_config(args)
    device = torch.device(args.device or (
        'cuda' if torch.cuda.is_available() else 'cpu'))
    if variant.startswith('amp') and device.type != 'cuda':
        sys.exit(f"error: the {variant} variant needs CUDA (mmengine's "
                 f'AmpOptimWrapper); the device is {device}')
    # random initialisation: no pretrained file
    seg_cfg.backbone.init_cfg = None
    seg_cfg.pop('pretrained', None)
    # the batch is padded to the data preprocessor's size: the crop
    preprocessor = seg_cfg.get('data_preprocessor') or {}
    if preprocessor.get('size') is not None:
        preprocessor['size'] = crop
    if variant.endswith('cp'):
        seg_cfg.backbone.with_cp = True
    if variant.startswith('amp'):
        enable_amp(cfg, args.amp_dtype)
    init_default_scope('mmseg')
    uda = 'segmentor' in cfg.model
    data = synthetic_batch(batch, crop, seg_cfg.decode_head.num_classes, uda)
    sampler = PeakMemorySampler(device=device)
    seconds = []
    with sampler, sampler.phase() as phase:
        model = MODELS.build(cfg.model)
        model.init_weights()
        model.to(device)
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        model.train()
        for _ in range(args.iters):
            start = time.perf_counter()
            model.train_step(data, optim_wrapper)
            if device.type == 'cuda':
                torch.cuda.synchronize()
            seconds.append(time.perf_counter() - start)
    return dict(
        variant=variant, device=device.type, batch=batch, crop=list(crop),
        iters=args.iters, seconds_per_step=round(min(seconds), 3),
        peak_cuda_mb=None if phase.cuda_peak is None else round(
            phase.cuda_peak / MB),
        peak_rss_growth_mb=round(phase.growth / MB))


def run_isolated(args: argparse.Namespace, argv, variant: str) -> dict:
    """One variant in a fresh process (its own RSS high-water)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = osp.join(tmp, 'figures.json')
        rest = [a for a in argv if a not in ('--json', args.json)]
        proc = subprocess.run(
            [sys.executable, osp.abspath(__file__), *rest, '--one-variant',
             variant, '--json', out], env=dict(os.environ))
        if proc.returncode != 0:
            sys.exit(f'error: the {variant} variant failed '
                     f'(exit code {proc.returncode})')
        with open(out) as f:
            return json.load(f)


def format_table(config: str, rows) -> str:
    """The figures as a text table."""
    first = rows[0]
    lines = [f'config {config}',
             f"device {first['device']}, batch {first['batch']} per domain, "
             f"crop {first['crop'][0]}x{first['crop'][1]}, "
             f"{first['iters']} steps",
             f"{'variant':<8} {'peak MB':>9} {'s/step':>8}"]
    for row in rows:
        peak = row['peak_cuda_mb'] if row['peak_cuda_mb'] is not None \
            else row['peak_rss_growth_mb']
        lines.append(f"{row['variant']:<8} {peak:>9} "
                     f"{row['seconds_per_step']:>8.2f}")
    lines.append('peak: CUDA max allocated' if first['device'] == 'cuda'
                 else 'peak: process RSS growth over the start (CPU)')
    return '\n'.join(lines)


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.one_variant:
        figures = run_variant(args, args.one_variant)
        with open(args.json, 'w') as f:
            json.dump(figures, f)
        return
    load_config(args)  # errors before any variant runs
    rows = [run_isolated(args, argv, v) for v in args.variants]
    print(format_table(args.config, rows), flush=True)
    if args.json:
        from mmseg_uda.utils.atomic_io import atomic_write_text
        atomic_write_text(args.json, json.dumps(
            dict(config=args.config, variants=rows), indent=2) + '\n')


if __name__ == '__main__':
    main()
