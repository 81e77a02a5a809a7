"""Training checks of the GPU check: the demo AdaptSegNet in every
precision, a forced fp16 overflow, MinEnt/AdvEnt/DACS, the CycleGAN
translator with ``--resume``, a self-training round and 2-rank DDP.

Each check function takes a :class:`CheckContext`, returns its figures and
raises :class:`CheckFailed` (or :class:`CheckSkipped`).
"""
import os
import os.path as osp
from typing import Dict, List, Sequence

from gpu_check_runs import (CheckContext, CheckFailed, load_checkpoint,
                            run_tool, training_figures)

TRAIN = 'tools/train.py'
# 2**100: any fp16 gradient scaled by it overflows, every step is skipped
HUGE_LOSS_SCALE = 2.0**100
# the pseudo-label root of the self-training check, in the work dir
SELF_TRAINING_LABELS = 'self_training_labels'
# bookkeeping entries of a state dict that move without an optimizer step
_BUFFERS = ('running_mean', 'running_var', 'num_batches_tracked')


ITERATIONS = dict(
    gpu=dict(adaptseg=20, method=10, translator=4, self_training=3, ddp=4,
             overflow=4),
    tiny=dict(adaptseg=2, method=2, translator=2, self_training=2, ddp=2,
              overflow=2))


def iterations(ctx: CheckContext, kind: str) -> int:
    """Iterations of a kind of run (fewer in tiny mode)."""
    return ITERATIONS['tiny' if ctx.tiny else 'gpu'][kind]


def train(ctx: CheckContext, name: str, config: str, iters: int,
          flags: Sequence[str] = (), options: Sequence[str] = (),
          validate: bool = True, nproc: int = 1) -> Dict:
    """``tools/train.py CONFIG`` into ``<work>/<name>``; its figures."""
    work = ctx.path(name)
    args = [config, '--work-dir', work, *flags]
    opts = [f'train_cfg.max_iters={iters}', *options]
    if nproc > 1:
        opts.append('env_cfg.dist_cfg.backend=gloo')
    run_tool(ctx, name, TRAIN, args + ['--cfg-options', *opts], nproc=nproc)
    figures = training_figures(work, iters, validate=validate)
    ctx.artifacts[f'{name}_checkpoint'] = osp.join(work, f'iter_{iters}.pth')
    return figures


def amp_flags(dtype: str) -> List[str]:
    """``tools/train.py`` flags of a precision."""
    if dtype == 'fp32':
        return []
    return ['--amp', '--amp-dtype',
            dict(fp16='float16', bf16='bfloat16')[dtype]]


def loss_scales(checkpoint: Dict) -> Dict[str, float]:
    """The loss scale of each AMP optimizer wrapper in a checkpoint."""
    scales = {}
    for name, state in checkpoint['optimizer'].items():
        scaler = state.get('loss_scaler') if isinstance(state, dict) else None
        if scaler is None:
            raise CheckFailed(f'optimizer {name!r} has no loss scaler: AMP '
                              'was not in effect')
        scales[name] = float(scaler['scale'])
    return scales


def check_adaptseg(ctx: CheckContext, dtype: str,
                   channels_last: bool = False) -> Dict:
    """Demo AdaptSegNet: N iterations and validation in one precision."""
    name = 'adaptseg_' + ('channels_last' if channels_last else dtype)
    options = ['model.channels_last=True'] if channels_last else []
    figures = train(ctx, name, ctx.configs['adaptseg'],
                    iterations(ctx, 'adaptseg'), amp_flags(dtype), options)
    if dtype != 'fp32':
        ckpt = load_checkpoint(ctx.artifacts[f'{name}_checkpoint'])
        figures.update({f'loss_scale.{k}': v
                        for k, v in loss_scales(ckpt).items()})
    return figures


def _segmentor_parameters(state: Dict) -> Dict:
    return {k: v for k, v in state.items() if k.startswith('segmentor.')
            and not k.endswith(_BUFFERS)}


def check_fp16_overflow(ctx: CheckContext) -> Dict:
    """A huge initial loss scale: every segmentor step overflows in fp16.

    GradScaler must skip those steps (segmentor parameters unchanged from
    the first checkpoint to the last, the scale halved once per step) while
    the discriminators train; no ``NonFiniteLossError``.
    """
    iters = iterations(ctx, 'overflow')
    output_name = 'adaptseg_fp16_overflow'
    options = [f'optim_wrapper.segmentor.loss_scale.init_scale='
               f'{HUGE_LOSS_SCALE!r}', 'default_hooks.checkpoint.interval=1']
    train(ctx, output_name, ctx.configs['adaptseg'], iters,
          amp_flags('fp16'), options, validate=False)
    work = ctx.path(output_name)
    with open(ctx.path('logs', f'{output_name}.log')) as f:
        if 'NonFiniteLossError' in f.read():
            raise CheckFailed('the overflow was raised as NonFiniteLossError')
    first = load_checkpoint(osp.join(work, 'iter_1.pth'))
    last = load_checkpoint(osp.join(work, f'iter_{iters}.pth'))
    a, b = (_segmentor_parameters(c['state_dict']) for c in (first, last))
    moved = [k for k in a if not bool((a[k] == b[k]).all())]
    if moved:
        raise CheckFailed(f'segmentor parameters changed although every '
                          f'step overflowed: {moved[:3]}')
    disc = [k for k in first['state_dict'] if k.startswith('discriminators.')
            and not bool((first['state_dict'][k] ==
                          last['state_dict'][k]).all())]
    if not disc:
        raise CheckFailed('the discriminators did not train')
    scale = loss_scales(last)['segmentor']
    expected = HUGE_LOSS_SCALE * 0.5**iters
    if scale != expected:
        raise CheckFailed(f'segmentor loss scale {scale:g} after {iters} '
                          f'overflowing steps, expected {expected:g}')
    return dict(iters=iters, skipped_steps=iters, init_scale=HUGE_LOSS_SCALE,
                final_scale=scale)


def check_method(ctx: CheckContext, method: str, dtype: str) -> Dict:
    """MinEnt, AdvEnt or DACS on the demo: N iterations and validation."""
    return train(ctx, f'{method}_{dtype}', ctx.configs[method],
                 iterations(ctx, 'method'), amp_flags(dtype))


def check_translator_resume(ctx: CheckContext) -> Dict:
    """The CycleGAN translator: half the iterations, checkpoint, then
    ``--resume`` to the end."""
    iters = iterations(ctx, 'translator')
    half = iters // 2
    config = ctx.configs['translator']
    train(ctx, 'translator', config, half, validate=False)
    run_tool(ctx, 'translator_resume', TRAIN,
             [config, '--work-dir', ctx.path('translator'), '--resume',
              '--cfg-options', f'train_cfg.max_iters={iters}'])
    with open(ctx.path('logs', 'translator_resume.log')) as f:
        if f'resumed epoch: 0, iter: {half}' not in f.read():
            raise CheckFailed(f'the second run did not resume at {half}')
    figures = training_figures(ctx.path('translator'), iters,
                               validate=False)
    return dict(figures, resumed_at=half)


def check_self_training(ctx: CheckContext) -> Dict:
    """A ``PseudoLabelRoundsHook`` round before the 2nd iteration: labels for
    every target image, then the SSL term in the loss."""
    iters = iterations(ctx, 'self_training')
    figures = train(ctx, 'self_training', ctx.configs['self_training'],
                    iters)
    with open(ctx.path('logs', 'self_training.log')) as f:
        log = f.read()
    if 'self-training round 1' not in log:
        raise CheckFailed('no self-training round was logged')
    labels = ctx.path(SELF_TRAINING_LABELS, 'current')
    if not osp.isdir(labels):
        raise CheckFailed(f'no current labels at {labels}')
    count = sum(len(files) for _, _, files in os.walk(labels))
    if count != ctx.num_target_train:
        raise CheckFailed(f'{count} pseudo-labels in {labels}, expected '
                          f'{ctx.num_target_train}')
    if 'tgt.main.loss_ce' not in log:
        raise CheckFailed('the pseudo-label loss tgt.main.loss_ce was not '
                          'logged after the round')
    return dict(figures, pseudo_labels=count)


def check_ddp(ctx: CheckContext) -> Dict:
    """Demo AdaptSegNet on 2 ranks (torchrun; one GPU shared via gloo)."""
    iters = iterations(ctx, 'ddp')
    figures = train(ctx, 'ddp_2rank', ctx.configs['adaptseg'], iters,
                    nproc=2)
    with open(ctx.path('logs', 'ddp_2rank.log')) as f:
        log = f.read()
    if 'Distributed training: True' not in log:
        raise CheckFailed('the run was not distributed')
    return dict(figures, ranks=2)
