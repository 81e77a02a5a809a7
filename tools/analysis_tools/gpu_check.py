"""Check the GPU paths of mmseg_uda in one command, on one GPU.

Usage::

    python tools/analysis_tools/gpu_check.py [--out OUT.json]
        [--work-dir DIR] [--data-root DIR] [--timeout S] [--only NAME ...]
    python tools/analysis_tools/gpu_check.py --tiny   # the CPU subset

Generates a small demo dataset (``tools.demo``), then runs each check
as its own tool process and reports pass, fail or skip with figures: the
environment (torch, CUDA, cuDNN, how mmcv's ops were compiled); the demo
AdaptSegNet in fp32, AMP float16, AMP bfloat16 and channels-last with
validation; a forced fp16 overflow that the loss scaler must skip; MinEnt,
AdvEnt and DACS in fp32 and fp16; the CycleGAN translator with
``--resume``; a self-training round; ``tools/test.py``,
``tools/gen_pseudo_labels.py``, ``tools/rank_targets.py`` and a re-ranking
on 2 ranks; 2-rank DDP training; full-resolution speed and memory of
multi-level AdaptSegNet on DeepLab-v2 R101 and of DACS on SegFormer MiT-B5,
with the targets (AMP at most half the fp32 time, peak memory under 11 GB);
the peak memory of MIC(HRDA) on MiT-B5 at batch 2 in fp32, with activation
checkpointing and with checkpointing and AMP (target: an option under
24 GB).

Writes ``OUT.json`` and ``OUT.md`` (a markdown table, also printed); the
exit code is 1 when a check fails. ``--tiny`` runs on the CPU with tiny
sizes and skips the CUDA-only checks, naming why.
"""
import argparse
import fnmatch
import os
import os.path as osp
import platform
import shutil
import sys
import time
import traceback
from datetime import datetime
from functools import partial

HERE = osp.dirname(osp.abspath(__file__))
REPO_ROOT = osp.dirname(osp.dirname(HERE))
for _path in (REPO_ROOT, HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from gpu_check_configs import demo_configs  # noqa: E402
from gpu_check_report import summary, write_report  # noqa: E402
from gpu_check_runs import (CheckContext, CheckFailed,  # noqa: E402
                            CheckSkipped)
from gpu_check_speed import (MIC_HRDA_VARIANTS,  # noqa: E402
                             check_amp_speed_target, check_dacs_mitb5,
                             check_fullres_adaptseg, check_memory_target,
                             check_mic_hrda_memory,
                             check_mic_hrda_memory_target)
from gpu_check_tools import (check_pseudo_labels,  # noqa: E402
                             check_rank_targets, check_rerank_distributed,
                             check_test_tool)
from gpu_check_training import (ITERATIONS,  # noqa: E402
                                SELF_TRAINING_LABELS, check_adaptseg,
                                check_ddp, check_fp16_overflow, check_method,
                                check_self_training, check_translator_resume)

MARKER = '.gpu_check'
AMP_CUDA_ONLY = ("CUDA only: mmengine's AmpOptimWrapper (--amp) does not "
                 'build without a GPU')
CUDA_ONLY = 'CUDA only: measures GPU time and memory'
# demo data: (H, W) and images per split; the ranker needs int(N * 0.67)
# and int(N * 0.5) to differ
DEMO_DATA = dict(
    gpu=dict(size=(128, 256), num_source_train=16, num_source_val=4,
             num_target_train=8, num_target_val=4),
    tiny=dict(size=(32, 64), num_source_train=4, num_source_val=2,
              num_target_train=6, num_target_val=2))


def check_environment(ctx: CheckContext) -> dict:
    """Versions of torch, CUDA, cuDNN, the GPU and mmcv's compiled ops."""
    import mmcv
    import mmengine
    import mmseg
    import torch
    cuda = torch.cuda.is_available()
    figures = dict(python=platform.python_version(), torch=torch.__version__,
                   cuda=torch.version.cuda or 'none (CPU build of torch)')
    if cuda:
        figures['cudnn'] = torch.backends.cudnn.version()
        props = torch.cuda.get_device_properties(0)
        figures['gpu'] = (f'{props.name}, {props.total_memory / 2**30:.0f} '
                          f'GiB, sm_{props.major}{props.minor}')
    figures.update(mmcv=mmcv.__version__, mmseg=mmseg.__version__,
                   mmengine=mmengine.__version__)
    try:
        from mmcv.ops import get_compiler_version, get_compiling_cuda_version
    except ImportError as exc:
        raise CheckFailed(f'mmcv.ops does not import (mmcv built without '
                          f'ops?): {exc}')
    compiled = get_compiling_cuda_version()
    figures['mmcv_ops'] = ('CPU only' if compiled == 'not available' else
                           f'CUDA {compiled}') + f', {get_compiler_version()}'
    if not ctx.tiny and figures.get('cudnn') is None:
        raise CheckFailed('cuDNN is not available to torch')
    return figures


def checks() -> list:
    """``(name, function, CUDA-only reason or None)`` in running order."""
    items = [('environment', check_environment, None),
             ('adaptseg_fp32', partial(check_adaptseg, dtype='fp32'), None)]
    items += [
        ('test_tool', check_test_tool, None),
        ('gen_pseudo_labels', check_pseudo_labels, None),
        ('rank_targets', check_rank_targets, None),
        ('rerank_2rank', check_rerank_distributed, None),
        ('adaptseg_amp_fp16', partial(check_adaptseg, dtype='fp16'),
         AMP_CUDA_ONLY),
        ('adaptseg_amp_bf16', partial(check_adaptseg, dtype='bf16'),
         AMP_CUDA_ONLY),
        ('adaptseg_channels_last',
         partial(check_adaptseg, dtype='fp32', channels_last=True), None),
        ('amp_fp16_overflow', check_fp16_overflow, AMP_CUDA_ONLY),
    ]
    for method in ('minent', 'advent', 'dacs'):
        items += [(f'{method}_fp32', partial(check_method, method=method,
                                             dtype='fp32'), None),
                  (f'{method}_amp_fp16', partial(check_method, method=method,
                                                 dtype='fp16'), AMP_CUDA_ONLY)]
    items += [('cyclegan_resume', check_translator_resume, None),
              ('self_training_round', check_self_training, None),
              ('ddp_2rank', check_ddp, None)]
    for variant in ('fp32', 'amp_fp16', 'amp_bf16', 'channels_last'):
        items.append((f'fullres_adaptseg_{variant}',
                      partial(check_fullres_adaptseg, variant=variant),
                      AMP_CUDA_ONLY if variant.startswith('amp') else None))
    items += [('dacs_mitb5', check_dacs_mitb5, None),
              ('target_amp_speed', check_amp_speed_target, CUDA_ONLY),
              ('target_peak_memory', check_memory_target, CUDA_ONLY)]
    for variant in MIC_HRDA_VARIANTS:
        items.append((f'mic_hrda_memory_{variant}',
                      partial(check_mic_hrda_memory, variant=variant),
                      CUDA_ONLY))
    items.append(('target_mic_hrda_memory', check_mic_hrda_memory_target,
                  CUDA_ONLY))
    return items


def run_check(ctx: CheckContext, name: str, func, cuda_only) -> dict:
    """Run one check; a failure is recorded, never raised."""
    record = dict(name=name, status='pass', seconds=0.0, figures={},
                  reason=None)
    start = time.perf_counter()
    try:
        if ctx.tiny and cuda_only:
            raise CheckSkipped(cuda_only)
        record['figures'] = func(ctx)
        ctx.results[name] = record['figures']
    except CheckSkipped as exc:
        record.update(status='skip', reason=str(exc))
    except CheckFailed as exc:
        record.update(status='fail', reason=str(exc))
    except Exception as exc:  # a broken check must not hide the others
        record.update(status='fail', reason=f'{type(exc).__name__}: {exc}',
                      traceback=traceback.format_exc())
    record['seconds'] = round(time.perf_counter() - start, 1)
    return record


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Check the GPU paths of mmseg_uda in one command')
    parser.add_argument('--tiny', action='store_true',
                        help='CPU mode: tiny sizes, CUDA-only checks skipped')
    parser.add_argument('--work-dir', help='default: work_dirs/gpu_check '
                        '(work_dirs/gpu_check_tiny with --tiny); emptied '
                        'first')
    parser.add_argument('--out', help='report JSON (the markdown goes next '
                        'to it, .md); default: WORK_DIR/gpu_check.json')
    parser.add_argument('--data-root', help='demo data, generated when '
                        'missing; default: data/gpu_check_demo[_tiny]')
    parser.add_argument('--timeout', type=float, default=None,
                        help='seconds one tool may run (default 180, 600 '
                        'with --tiny)')
    parser.add_argument('--only', nargs='+', metavar='NAME',
                        help='run only these checks (shell patterns); '
                        'checks that need another one fail without it')
    args = parser.parse_args(argv)
    suffix = '_tiny' if args.tiny else ''
    args.work_dir = osp.abspath(args.work_dir or
                                f'work_dirs/gpu_check{suffix}')
    args.out = osp.abspath(args.out or osp.join(args.work_dir,
                                                'gpu_check.json'))
    args.data_root = osp.abspath(args.data_root or
                                 f'data/gpu_check_demo{suffix}')
    if args.timeout is None:
        args.timeout = 600.0 if args.tiny else 180.0
    if args.timeout <= 0:
        parser.error('--timeout must be positive')
    return args


def refuse_without_gpu(tiny: bool) -> None:
    """The full check needs a CUDA GPU: stop before any work without one."""
    import torch
    if not tiny and not torch.cuda.is_available():
        sys.exit('gpu_check: error: no CUDA GPU is available '
                 '(torch.cuda.is_available() is False, torch '
                 f'{torch.__version__}); the full check runs on a GPU. Run '
                 'with --tiny for the CPU subset.')


def prepare_work_dir(work_dir: str) -> None:
    """Empty the check's own work dir; refuse any other non-empty dir."""
    if osp.isdir(work_dir) and os.listdir(work_dir):
        if not osp.isfile(osp.join(work_dir, MARKER)):
            sys.exit(f'gpu_check: error: --work-dir {work_dir} is not empty '
                     'and was not made by gpu_check; choose another')
        shutil.rmtree(work_dir)
    os.makedirs(work_dir, exist_ok=True)
    open(osp.join(work_dir, MARKER), 'w').close()


def main(argv=None) -> int:
    args = parse_args(argv)
    refuse_without_gpu(args.tiny)
    prepare_work_dir(args.work_dir)
    from tools.demo.demo_dataset import generate_demo_dataset
    start = time.perf_counter()
    mode = 'tiny' if args.tiny else 'gpu'
    data = DEMO_DATA[mode]
    generate_demo_dataset(args.data_root, **data)
    configs = demo_configs(
        REPO_ROOT, osp.join(args.work_dir, 'configs'), args.data_root,
        osp.join(args.work_dir, SELF_TRAINING_LABELS),
        iters=ITERATIONS[mode],
        batch=1 if args.tiny else 2, workers=0 if args.tiny else 2,
        crop=(64, 32) if args.tiny else (256, 128))
    ctx = CheckContext(repo=REPO_ROOT, work_dir=args.work_dir,
                       data_root=args.data_root, tiny=args.tiny,
                       configs=configs, timeout=args.timeout,
                       num_target_train=data['num_target_train'])
    selected = [c for c in checks() if not args.only or any(
        fnmatch.fnmatch(c[0], p) for p in args.only)]
    records = []
    for i, (name, func, cuda_only) in enumerate(selected, 1):
        print(f'[{i:2d}/{len(selected)}] {name} ...', end=' ', flush=True)
        record = run_check(ctx, name, func, cuda_only)
        print(f"{record['status']} ({record['seconds']:.1f} s)", flush=True)
        records.append(record)
    env = ctx.results.get('environment', {})
    report = dict(mode=mode,
                  date=datetime.now().isoformat(timespec='seconds'),
                  seconds=round(time.perf_counter() - start, 1),
                  environment=env, work_dir=args.work_dir,
                  data_root=args.data_root, checks=records,
                  counts=summary(records))
    report['passed'] = report['counts']['fail'] == 0
    print('\n' + write_report(report, args.out))
    print(f'report: {args.out} and {osp.splitext(args.out)[0]}.md')
    return 0 if report['passed'] else 1


if __name__ == '__main__':
    sys.exit(main())
