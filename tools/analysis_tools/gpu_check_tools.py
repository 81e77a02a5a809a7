"""Tool checks of the GPU check: ``tools/test.py``,
``tools/gen_pseudo_labels.py``, ``tools/rank_targets.py`` and re-ranking a
finished ranking with another ``--lambda`` on 2 ranks.

They use the checkpoint of the fp32 demo AdaptSegNet check.
"""
import json
import os
import os.path as osp
import re
from typing import Dict, List

from gpu_check_runs import (CheckContext, CheckFailed, require_artifact,
                            run_tool)

_MIOU = re.compile(r'mIoU: (\d+(?:\.\d+)?)')


def _model(ctx: CheckContext) -> List[str]:
    checkpoint = require_artifact(ctx, 'adaptseg_fp32_checkpoint',
                                  'adaptseg_fp32')
    return [ctx.configs['adaptseg'], checkpoint]


def check_test_tool(ctx: CheckContext) -> Dict:
    """``tools/test.py CONFIG CHECKPOINT`` on the target validation set."""
    out = run_tool(ctx, 'test_tool', 'tools/test.py',
                   _model(ctx) + ['--work-dir', ctx.path('test_tool')])
    found = _MIOU.findall(out)
    if not found:
        raise CheckFailed('tools/test.py printed no mIoU')
    return dict(mIoU=float(found[-1]))


def check_pseudo_labels(ctx: CheckContext) -> Dict:
    """``tools/gen_pseudo_labels.py`` (BDL's rule): one label per target
    training image and the summary."""
    work = ctx.path('pseudo_labels')
    run_tool(ctx, 'pseudo_labels', 'tools/gen_pseudo_labels.py',
             _model(ctx) + ['--work-dir', work, '--batch-size', '2'])
    labels = osp.join(work, 'pseudo_labels')
    count = sum(len(files) for _, _, files in os.walk(labels))
    if count != ctx.num_target_train:
        raise CheckFailed(f'{count} labels in {labels}, expected '
                          f'{ctx.num_target_train}')
    with open(osp.join(work, 'pseudo_labels.json')) as f:
        summary = json.load(f)
    figures = dict(images=count)
    fraction = summary.get('labelled_fraction')
    if fraction is not None:
        figures['labelled_fraction'] = round(float(fraction), 4)
    return figures


def _ranking(rank_dir: str, names: int, easy_ratio: float) -> Dict:
    """Read and check a finished ranking directory."""
    with open(osp.join(rank_dir, 'ranking.json')) as f:
        summary = json.load(f)
    splits = {}
    for split in ('easy', 'hard'):
        with open(osp.join(rank_dir, f'{split}_split.txt')) as f:
            splits[split] = [line.strip() for line in f if line.strip()]
    members = splits['easy'] + splits['hard']
    if len(members) != names or len(set(members)) != names:
        raise CheckFailed(f'the splits of {rank_dir} do not hold each of the '
                          f'{names} images once')
    if summary['easy_ratio'] != easy_ratio or \
            summary['num_easy'] != len(splits['easy']) or \
            len(splits['easy']) != int(names * easy_ratio):
        raise CheckFailed(f'{rank_dir}: {len(splits["easy"])} easy images '
                          f'for lambda {summary["easy_ratio"]}, expected '
                          f'{int(names * easy_ratio)} for {easy_ratio}')
    leftovers = [f for _, _, files in os.walk(rank_dir) for f in files
                 if f.endswith('.tmp')]
    if leftovers:
        raise CheckFailed(f'temporary files left in {rank_dir}: '
                          f'{leftovers[:3]}')
    return dict(images=names, easy=len(splits['easy']))


def check_rank_targets(ctx: CheckContext) -> Dict:
    """``tools/rank_targets.py`` (IntraDA's entropy ranking, lambda 0.67)."""
    rank_dir = ctx.path('ranking')
    run_tool(ctx, 'rank_targets', 'tools/rank_targets.py',
             _model(ctx) + ['--work-dir', rank_dir])
    figures = _ranking(rank_dir, ctx.num_target_train, 0.67)
    ctx.artifacts['ranking'] = rank_dir
    return figures


def check_rerank_distributed(ctx: CheckContext) -> Dict:
    """Re-rank the finished ranking with ``--lambda 0.5`` under ``torchrun
    --nproc_per_node 2``: no network run, one consistent result."""
    rank_dir = require_artifact(ctx, 'ranking', 'rank_targets')
    out = run_tool(ctx, 'rerank_2rank', 'tools/rank_targets.py',
                   _model(ctx) + ['--work-dir', rank_dir, '--lambda', '0.5',
                                  '--cfg-options',
                                  'env_cfg.dist_cfg.backend=gloo'],
                   nproc=2)
    if 'already scored' not in out:
        raise CheckFailed('the re-ranking did not find the finished scores')
    return dict(_ranking(rank_dir, ctx.num_target_train, 0.5), ranks=2)
