"""Benchmark a config's training step (and optionally the ranker and the
pseudo-label generator) against plain re-statements, side by side.

Usage::

    python benchmarks/benchmark.py CONFIG [--iters 20]
        [--warmup 2] [--amp [--amp-dtype D]] [--device {cpu,cuda}] [--ranker]
        [--pseudo-labels] [--num-images 8] [--json PATH]
        [--work-dir DIR] [--cfg-options KEY=VALUE ...]

Builds the model, data and hooks as ``tools/train.py`` does, runs warm-up
then N timed iterations of the runner's train loop and of a plain PyTorch
re-statement of the same step (same modules, optimizers and batches, no
runner, no hooks), interleaved, and prints median and spread of the
iteration time, data-wait share, samples/s, peak memory (CPU RSS; CUDA max
allocated) and ours/plain. ``--ranker``/``--pseudo-labels`` also time our
entropy ranker / pseudo-label generator against the originals' per-image
loops on N and 2N target images.
"""
import argparse
import json
import os
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def parse_args(argv=None) -> argparse.Namespace:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Benchmark the training step against plain PyTorch')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--iters', type=int, default=20,
                        help='timed iterations')
    parser.add_argument('--warmup', type=int, default=2,
                        help='untimed iterations first')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision (AmpOptimWrapper; CUDA only)')
    parser.add_argument('--amp-dtype', choices=('float16', 'bfloat16'),
                        default=None,
                        help='autocast dtype with --amp (default float16)')
    parser.add_argument('--device', choices=['cpu', 'cuda'], default=None,
                        help='default: cuda when available, else cpu')
    parser.add_argument('--ranker', action='store_true',
                        help='also time the entropy ranker')
    parser.add_argument('--pseudo-labels', action='store_true',
                        help='also time the pseudo-label generator')
    parser.add_argument('--num-images', type=int, default=8,
                        help='N for --ranker/--pseudo-labels (N and 2N '
                        'images are run)')
    parser.add_argument('--json', help='also write the figures here')
    parser.add_argument('--no-progress', action='store_true',
                        help='no progress bars')
    parser.add_argument('--work-dir', help='default: '
                        'work_dirs/benchmark/<config name>')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value (as tools/train.py)')
    args = parser.parse_args(argv)
    if args.iters < 1 or args.warmup < 0 or args.num_images < 1:
        parser.error('--iters and --num-images must be >= 1, --warmup >= 0')
    return args


def check_device(args: argparse.Namespace):
    """The device to run on; clear errors before any work."""
    import torch
    cuda = torch.cuda.is_available()
    device = args.device or ('cuda' if cuda else 'cpu')
    if device == 'cuda' and not cuda:
        sys.exit('error: --device cuda, but CUDA is not available '
                 '(torch.cuda.is_available() is False)')
    if args.amp and device != 'cuda':
        sys.exit("error: --amp needs CUDA (mmengine's AmpOptimWrapper); "
                 f'the device is {device}')
    return torch.device(device)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.device == 'cpu':
        os.environ['CUDA_VISIBLE_DEVICES'] = ''  # before CUDA initialises
    device = check_device(args)

    from benchmarks.lib.inference_benchmark import benchmark_inference
    from benchmarks.lib.report import (environment, format_header,
                                       format_inference, format_train)
    from benchmarks.lib.train_step_benchmark import benchmark_train_step
    from mmseg_uda.utils import enable_amp
    from mmseg_uda.utils.atomic_io import atomic_write_text
    from mmseg_uda.utils.tool_config import build_runner, load_tool_config

    if args.work_dir is None:
        name = osp.splitext(osp.basename(args.config))[0]
        args.work_dir = osp.join('work_dirs', 'benchmark', name)
    args.launcher, args.local_rank = 'none', 0
    cfg = load_tool_config(args)
    if args.amp:
        enable_amp(cfg, args.amp_dtype)
    cfg.resume = False
    runner = build_runner(cfg)

    train = benchmark_train_step(runner, args.iters, args.warmup, device,
                                 progress=not args.no_progress)
    inference = []
    loader = cfg.get('test_dataloader') or {}
    for task, wanted in (('ranker', args.ranker),
                         ('pseudo_labels', args.pseudo_labels)):
        if wanted:
            inference.append(benchmark_inference(
                runner.model, cfg, task, args.num_images, device,
                batch_size=loader.get('batch_size', 1),
                num_workers=loader.get('num_workers', 0),
                progress=not args.no_progress))

    env = environment(device)
    lines = format_header(env) + [f'config {args.config}', '']
    lines += format_train(train)
    for result in inference:
        lines += [''] + format_inference(result)
    print('\n'.join(lines), flush=True)
    if args.json:
        figures = dict(environment=env, config=args.config,
                       train_step=train, inference=inference)
        atomic_write_text(args.json, json.dumps(figures, indent=2) + '\n')


if __name__ == '__main__':
    main()
