"""Speed and memory checks of the GPU check, through
``benchmarks/benchmark.py``: multi-level AdaptSegNet on DeepLab-v2
R101 at full resolution (GTA5 1280x720 + Cityscapes 1024x512, random init)
in fp32, AMP float16, AMP bfloat16 and channels-last, DACS on SegFormer
MiT-B5 (512x512 crops, batch 2), and the targets: AMP at most half the fp32
time, peak GPU memory under 11 GB. Tiny mode runs the same configs at
tiny sizes on the CPU.
"""
import json
import os.path as osp
from typing import Dict, List

from gpu_check_runs import CheckContext, CheckFailed, run_tool

ADAPTSEG_R101 = 'configs/adaptseg/deeplabv2_r101_gta2cs.py'
DACS_MITB5 = 'configs/selftrain/segformer_mitb5_dacs_gta2cs.py'
# the targets (docs/benchmarks.md)
AMP_TIME_RATIO = 0.5
PEAK_MEMORY_BYTES = 11e9
_MB = float(1 << 20)


def _loader_options(ctx: CheckContext) -> List[str]:
    loader = 'train_dataloader'
    return [f'{loader}.dataset.source.data_root={ctx.data_root}/source',
            f'{loader}.dataset.target.data_root={ctx.data_root}/target',
            f'{loader}.num_workers={0 if ctx.tiny else 4}',
            f'{loader}.persistent_workers={not ctx.tiny}']


def _benchmark(ctx: CheckContext, name: str, config: str, flags: List[str],
               options: List[str]) -> Dict:
    """Run benchmark.py; return its ``train_step`` figures."""
    out_json = ctx.path(name, 'figures.json')
    iters, warmup = (1, 1) if ctx.tiny else (10, 3)
    args = [config, '--iters', str(iters), '--warmup', str(warmup),
            '--device', ctx.device, '--no-progress', '--json', out_json,
            '--work-dir', ctx.path(name), *flags, '--cfg-options',
            *_loader_options(ctx), *options]
    run_tool(ctx, name, 'benchmarks/benchmark.py', args)
    with open(out_json) as f:
        return json.load(f)['train_step']


def _figures(train: Dict) -> Dict:
    ours, plain = train['ours'], train['plain']
    figures = dict(images_per_iter=train['samples_per_iter'],
                   ms_per_iter=round(1000 * ours['median_s'], 1))
    if plain is not None:
        figures['plain_ms_per_iter'] = round(1000 * plain['median_s'], 1)
        figures['ours_plain_ratio'] = round(train['ratio_of_medians'], 3)
    if ours['peak_cuda_mb'] is not None:
        figures['peak_gpu_mb'] = round(ours['peak_cuda_mb'])
    else:
        figures['peak_rss_mb'] = round(ours['peak_rss_mb'])
    return figures


def check_fullres_adaptseg(ctx: CheckContext, variant: str) -> Dict:
    """Multi-level AdaptSegNet, DeepLab-v2 R101, random init, one variant:
    ``fp32``, ``amp_fp16``, ``amp_bf16`` or ``channels_last``."""
    flags = dict(fp32=[], amp_fp16=['--amp'],
                 amp_bf16=['--amp', '--amp-dtype', 'bfloat16'],
                 channels_last=[])[variant]
    options = ['model.segmentor.backbone.init_cfg=None']
    if variant == 'channels_last':
        options.append('model.channels_last=True')
    if ctx.tiny:
        loader = 'train_dataloader.dataset'
        options += [f'{loader}.source.pipeline.2.scale=(64,36)',
                    f'{loader}.target.pipeline.1.scale=(64,32)']
    train = _benchmark(ctx, f'fullres_adaptseg_{variant}',
                       osp.join(ctx.repo, ADAPTSEG_R101), flags, options)
    return _figures(train)


def check_dacs_mitb5(ctx: CheckContext) -> Dict:
    """DACS on SegFormer MiT-B5, 512x512 crops, batch 2 (random init);
    tiny mode: 64x64 crops, batch 1, one block per stage."""
    options = ['model.segmentor.backbone.init_cfg=None',
               'train_dataloader.batch_size=2']
    if ctx.tiny:
        # one block per stage and a narrow decoder: the MiT-B5 code path,
        # not its size
        loader = 'train_dataloader.dataset'
        options = [options[0], 'train_dataloader.batch_size=1',
                   'model.segmentor.backbone.num_layers=[1,1,1,1]',
                   'model.segmentor.decode_head.channels=32',
                   f'{loader}.source.pipeline.2.scale=(128,64)',
                   f'{loader}.source.pipeline.3.crop_size=(64,64)',
                   f'{loader}.target.pipeline.1.scale=(128,64)',
                   f'{loader}.target.pipeline.2.crop_size=(64,64)',
                   'model.segmentor.data_preprocessor.size=(64,64)']
    train = _benchmark(ctx, 'dacs_mitb5', osp.join(ctx.repo, DACS_MITB5),
                       [], options)
    return _figures(train)


def _fullres(ctx: CheckContext, variant: str) -> Dict:
    name = f'fullres_adaptseg_{variant}'
    if name not in ctx.results:
        raise CheckFailed(f'needs the {name} check, which did not pass')
    return ctx.results[name]


def check_amp_speed_target(ctx: CheckContext) -> Dict:
    """AMP (float16) iteration time at most half the fp32 time."""
    fp32, amp = _fullres(ctx, 'fp32'), _fullres(ctx, 'amp_fp16')
    ratio = amp['ms_per_iter'] / fp32['ms_per_iter']
    figures = dict(amp_fp16_ms=amp['ms_per_iter'],
                   fp32_ms=fp32['ms_per_iter'], ratio=round(ratio, 3),
                   target=f'<= {AMP_TIME_RATIO}')
    if ratio > AMP_TIME_RATIO:
        raise CheckFailed(f'AMP takes {ratio:.2f}x the fp32 time, the target '
                          f'is at most {AMP_TIME_RATIO}x')
    return figures


def check_memory_target(ctx: CheckContext) -> Dict:
    """Peak GPU memory of every full-resolution run under 11 GB."""
    peaks = {}
    for variant in ('fp32', 'amp_fp16', 'amp_bf16', 'channels_last'):
        peak = _fullres(ctx, variant).get('peak_gpu_mb')
        if peak is None:
            raise CheckFailed(f'no peak GPU memory of {variant}')
        peaks[f'{variant}_mb'] = peak
    limit_mb = round(PEAK_MEMORY_BYTES / _MB)
    figures = dict(peaks, target=f'< {limit_mb} MB (11 GB)')
    worst = max(peaks, key=peaks.get)
    if peaks[worst] * _MB >= PEAK_MEMORY_BYTES:
        raise CheckFailed(f'{worst[:-3]} peaks at {peaks[worst]} MB, the '
                          f'target is under {limit_mb} MB (11 GB)')
    return figures


MIC_HRDA = 'configs/mic/mic_hrda_mitb5_gta2cs.py'
#: the target of the memory options (issue: MIC(HRDA) at batch 2 on a
#: 24 GB GPU)
MIC_HRDA_MEMORY_BYTES = 24e9
MIC_HRDA_VARIANTS = dict(fp32='fp32', cp='cp', amp_cp='amp-cp')


def check_mic_hrda_memory(ctx: CheckContext, variant: str) -> Dict:
    """Peak GPU memory of MIC(HRDA) on MiT-B5 (1024x1024 crops, batch 2,
    random init) with one memory option: ``benchmarks/train_memory.py``,
    2 steps."""
    out_json = ctx.path(f'mic_hrda_memory_{variant}', 'memory.json')
    run_tool(ctx, f'mic_hrda_memory_{variant}', 'benchmarks/train_memory.py',
             [osp.join(ctx.repo, MIC_HRDA), '--variants',
              MIC_HRDA_VARIANTS[variant], '--iters', '2', '--device',
              ctx.device, '--json', out_json])
    with open(out_json) as f:
        row, = json.load(f)['variants']
    return dict(batch=row['batch'], crop=row['crop'],
                peak_gpu_mb=row['peak_cuda_mb'],
                s_per_step=row['seconds_per_step'])


def check_mic_hrda_memory_target(ctx: CheckContext) -> Dict:
    """A memory option (checkpointing, with or without AMP) trains
    MIC(HRDA) at batch 2 under 24 GB."""
    peaks = {}
    for variant in MIC_HRDA_VARIANTS:
        figures = ctx.results.get(f'mic_hrda_memory_{variant}')
        if figures is None:
            raise CheckFailed(f'needs the mic_hrda_memory_{variant} check, '
                              'which did not pass')
        peaks[f'{variant}_mb'] = figures['peak_gpu_mb']
    limit_mb = round(MIC_HRDA_MEMORY_BYTES / _MB)
    best = min(('cp_mb', 'amp_cp_mb'), key=peaks.get)
    figures = dict(peaks, target=f'cp or amp_cp < {limit_mb} MB (24 GB)')
    if peaks[best] * _MB >= MIC_HRDA_MEMORY_BYTES:
        raise CheckFailed(f'the best memory option ({best[:-3]}) peaks at '
                          f'{peaks[best]} MB, the target is under '
                          f'{limit_mb} MB (24 GB)')
    return figures
