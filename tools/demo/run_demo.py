"""`make demo`: generate the demo domains, train, evaluate on both domains.

    python tools/demo/run_demo.py [--data-root data/demo]
        [--work-dir work_dirs/demo] [--configs CFG ...] [--seed 0]

For each config: trains it with ``tools/train.py`` (skipped when its work dir
already holds the final checkpoint; every config after the first starts from
the first one's checkpoint, i.e. adaptation is warm-started from the
source-only model), evaluates the checkpoint on the source and target
validation sets, prints one per-class IoU table and writes a picture of
target images | labels | predictions of every config.
"""
import argparse
import json
import os.path as osp
import subprocess
import sys

from mmengine.config import Config

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

from mmseg_uda.utils.atomic_io import atomic_write_text  # noqa
from tools.demo.demo_dataset import generate_demo_dataset  # noqa
from tools.demo.report import (evaluate_per_class, format_table,  # noqa
                               latest_checkpoint, load_model,
                               write_prediction_grid)

DEFAULT_CONFIGS = [
    'configs/demo/deeplabv2_r18_tiny_source_only_demo.py',
    'configs/demo/deeplabv2_r18_tiny_adaptseg_demo.py',
    'configs/demo/deeplabv2_r18_tiny_daformer_demo.py',
]
DATASET_KEYS = ('source_train_dataset', 'source_val_dataset',
                'target_train_dataset', 'target_val_dataset')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/demo')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--configs', nargs='+', default=DEFAULT_CONFIGS)
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of training')
    parser.add_argument('--data-seed', type=int, default=0,
                        help='seed of the demo data generator')
    parser.add_argument('--num-vis', type=int, default=4,
                        help='target images in the picture')
    parser.add_argument('--data-options', nargs='*', default=[],
                        help='KEY=VALUE numbers for generate_demo_dataset, '
                        'e.g. num_source_train=8 (for quick checks)')
    parser.add_argument('--max-iters', type=int, default=None,
                        help='override the configs\' training length')
    return parser.parse_args()


def data_root_options(cfg: Config, data_root: str) -> list:
    """``--cfg-options`` pointing every demo loader at ``data_root``.

    Paired datasets (``source``/``target`` sub-datasets) are followed.
    """
    options = []

    def visit(dataset: dict, key: str) -> None:
        if 'data_root' in dataset:
            domain = osp.basename(dataset['data_root'].rstrip('/'))
            options.append(f'{key}.data_root={osp.join(data_root, domain)}')
        for sub in ('source', 'target'):
            if isinstance(dataset.get(sub), dict):
                visit(dataset[sub], f'{key}.{sub}')

    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        visit(cfg[loader]['dataset'], f'{loader}.dataset')
    return options


def set_data_root(cfg: Config, data_root: str) -> None:
    """Point the demo dataset configs of ``cfg`` at ``data_root``."""
    for key in DATASET_KEYS:
        if key in cfg:
            domain = osp.basename(cfg[key]['data_root'].rstrip('/'))
            cfg[key]['data_root'] = osp.join(data_root, domain)


def train(config: str, work_dir: str, max_iters: int, options: list) -> str:
    """Train ``config`` unless ``work_dir`` already holds its last iteration.

    Returns:
        str: Path of the final checkpoint.
    """
    final = osp.join(work_dir, f'iter_{max_iters}.pth')
    if osp.isfile(final):
        print(f'[demo] {final} exists, skipping training')
        return final
    cmd = [sys.executable, osp.join(REPO_ROOT, 'tools/train.py'), config,
           '--work-dir', work_dir]
    if latest_checkpoint(work_dir):
        cmd.append('--resume')  # an interrupted demo continues
    cmd += ['--cfg-options'] + options
    print('[demo] ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    if not osp.isfile(final):
        raise RuntimeError(f'training finished without writing {final}')
    return final


def main() -> None:
    args = parse_args()
    data_kwargs = {k: int(v) for k, v in
                   (opt.split('=', 1) for opt in args.data_options)}
    generate_demo_dataset(args.data_root, seed=args.data_seed, **data_kwargs)

    columns, grids, results = {}, {}, {}
    images = labels = first_checkpoint = None
    for config in args.configs:
        if not osp.isfile(config):
            raise FileNotFoundError(f'config file not found: {config}')
        cfg = Config.fromfile(config)
        name = osp.splitext(osp.basename(config))[0]
        work_dir = osp.join(args.work_dir, name)
        max_iters = args.max_iters or cfg.train_cfg.max_iters
        options = data_root_options(cfg, args.data_root) + [
            f'randomness.seed={args.seed}', f'train_cfg.max_iters={max_iters}',
            f'train_cfg.val_interval={max_iters}',
            f'default_hooks.checkpoint.interval={max_iters}'
        ]
        if first_checkpoint is not None:
            options.append(f'load_from={first_checkpoint}')
        checkpoint = train(config, work_dir, max_iters, options)
        first_checkpoint = first_checkpoint or checkpoint

        set_data_root(cfg, args.data_root)
        model = load_model(cfg, checkpoint)
        num_classes = len(cfg.target_val_dataset.metainfo.classes)
        loader = dict(cfg.test_dataloader)
        loader.update(num_workers=0, persistent_workers=False)
        short = name.replace('deeplabv2_r18_tiny_', '').replace('_demo', '')
        for domain in ('source', 'target'):
            print(f'[demo] evaluating {short} on {domain} val')
            loader['dataset'] = cfg[f'{domain}_val_dataset']
            res = evaluate_per_class(
                model, loader, num_classes,
                keep=args.num_vis if domain == 'target' else 0)
            columns[f'{short}/{domain}'] = res['iou']
            results[f'{short}/{domain}'] = dict(
                mIoU=res['miou'], IoU=[float(v) for v in res['iou']])
            if domain == 'target':
                images = [s[0] for s in res['samples']]
                labels = [s[1] for s in res['samples']]
                grids[short] = [s[2] for s in res['samples']]

    classes = cfg.target_val_dataset.metainfo.classes
    print('\nIoU (%) per class, demo validation sets')
    print(format_table(classes, columns))
    from mmseg.datasets import CityscapesDataset
    meta = CityscapesDataset.METAINFO
    palette = [meta['palette'][meta['classes'].index(c)] for c in classes]
    picture = osp.join(args.work_dir, 'target_predictions.png')
    write_prediction_grid(picture, images, labels, grids, palette)
    summary = osp.join(args.work_dir, 'results.json')
    atomic_write_text(
        summary, json.dumps(dict(classes=list(classes), results=results),
                            indent=2))
    print(f'\n[demo] picture: {picture}\n[demo] numbers: {summary}')


if __name__ == '__main__':
    main()
