"""tools/analysis_tools/gpu_check.py: the --tiny CPU mode end to end, the
refusal of the full mode without a GPU, and one failing check not hiding
the others."""
import json
import math
import os
import os.path as osp
import sys

import pytest
import torch

from tests.tool_runs import run

TOOL = 'tools/analysis_tools/gpu_check.py'
# every check, in running order; the CUDA-only ones are skipped on the CPU
CHECKS = [
    'environment', 'adaptseg_fp32', 'test_tool', 'gen_pseudo_labels',
    'rank_targets', 'rerank_2rank', 'adaptseg_amp_fp16', 'adaptseg_amp_bf16',
    'adaptseg_channels_last', 'amp_fp16_overflow', 'minent_fp32',
    'minent_amp_fp16', 'advent_fp32', 'advent_amp_fp16', 'dacs_fp32',
    'dacs_amp_fp16', 'cyclegan_resume', 'self_training_round', 'ddp_2rank',
    'fullres_adaptseg_fp32', 'fullres_adaptseg_amp_fp16',
    'fullres_adaptseg_amp_bf16', 'fullres_adaptseg_channels_last',
    'dacs_mitb5', 'target_amp_speed', 'target_peak_memory',
    'mic_hrda_memory_fp32', 'mic_hrda_memory_cp', 'mic_hrda_memory_amp_cp',
    'target_mic_hrda_memory'
]
CUDA_ONLY = {
    'adaptseg_amp_fp16', 'adaptseg_amp_bf16', 'amp_fp16_overflow',
    'minent_amp_fp16', 'advent_amp_fp16', 'dacs_amp_fp16',
    'fullres_adaptseg_amp_fp16', 'fullres_adaptseg_amp_bf16',
    'target_amp_speed', 'target_peak_memory', 'mic_hrda_memory_fp32',
    'mic_hrda_memory_cp', 'mic_hrda_memory_amp_cp', 'target_mic_hrda_memory'
}
TRAINED = ('adaptseg_fp32', 'adaptseg_channels_last', 'minent_fp32',
           'advent_fp32', 'dacs_fp32', 'self_training_round', 'ddp_2rank')


def _run(repo_root, *args, env=None):
    env = dict(os.environ if env is None else env, PYTHONPATH=repo_root)
    # the tool's own per-check limits end each check; this bounds the whole
    return run([sys.executable, TOOL, *args], cwd=repo_root, env=env,
               timeout=1500)


@pytest.fixture(scope='module')
def tiny_report(repo_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('gpu_check')
    out = str(tmp / 'report' / 'check.json')
    proc = _run(repo_root, '--tiny', '--work-dir', str(tmp / 'work'),
                '--data-root', str(tmp / 'data'), '--out', out)
    with open(out) as f:
        report = json.load(f)
    with open(str(tmp / 'report' / 'check.md')) as f:
        table = f.read()
    return proc, report, table


@pytest.mark.slow
def test_tiny_mode_passes_every_cpu_check(tiny_report):
    proc, report, _ = tiny_report
    failed = {c['name']: c['reason'] for c in report['checks']
              if c['status'] == 'fail'}
    assert proc.returncode == 0 and not failed, (failed, proc.stdout[-3000:],
                                                 proc.stderr[-3000:])
    assert report['mode'] == 'tiny' and report['passed'] is True
    assert [c['name'] for c in report['checks']] == CHECKS
    status = {c['name']: c['status'] for c in report['checks']}
    assert {n for n, s in status.items() if s == 'skip'} == CUDA_ONLY
    for check in report['checks']:
        if check['status'] == 'skip':
            assert check['reason'].startswith('CUDA only:')
            assert check['figures'] == {}
        else:
            assert check['figures'] and check['seconds'] >= 0
    assert report['counts'] == {'pass': len(CHECKS) - len(CUDA_ONLY),
                                'fail': 0, 'skip': len(CUDA_ONLY)}


@pytest.mark.slow
def test_tiny_mode_figures(tiny_report):
    _, report, _ = tiny_report
    fig = {c['name']: c['figures'] for c in report['checks']}
    env = fig['environment']
    assert env['torch'] == torch.__version__
    assert env['mmcv_ops'].startswith(('CPU only, ', 'CUDA '))
    assert report['environment'] == env
    for name in TRAINED:
        assert fig[name]['iters'] == 2, name
        assert fig[name]['ms_per_iter'] > 0 and math.isfinite(
            fig[name]['loss_sum']), name
        assert 0 <= fig[name]['mIoU'] <= 100, name
    assert fig['ddp_2rank']['ranks'] == 2
    assert fig['cyclegan_resume'] == dict(fig['cyclegan_resume'], iters=2,
                                          resumed_at=1)
    # a round labels all 6 target training images of the tiny demo data
    assert fig['self_training_round']['pseudo_labels'] == 6
    assert 0 <= fig['test_tool']['mIoU'] <= 100
    assert fig['gen_pseudo_labels']['images'] == 6
    assert 0 < fig['gen_pseudo_labels']['labelled_fraction'] <= 1
    # lambda 0.67, then re-ranked with 0.5 on 2 ranks: int(6 * lambda)
    assert fig['rank_targets'] == dict(images=6, easy=4)
    assert fig['rerank_2rank'] == dict(images=6, easy=3, ranks=2)
    for name in ('fullres_adaptseg_fp32', 'fullres_adaptseg_channels_last'):
        assert fig[name]['images_per_iter'] == 2  # 1 source + 1 target
        ratio = fig[name]['ms_per_iter'] / fig[name]['plain_ms_per_iter']
        assert fig[name]['ours_plain_ratio'] == pytest.approx(ratio,
                                                              rel=0.01)
        assert fig[name]['peak_rss_mb'] > 0
    assert fig['dacs_mitb5']['images_per_iter'] == 2
    assert fig['dacs_mitb5']['ms_per_iter'] > 0


@pytest.mark.slow
def test_tiny_mode_table(tiny_report):
    proc, report, table = tiny_report
    assert table in proc.stdout
    assert table.startswith('# GPU check: tiny (CPU, tiny sizes), ')
    rows = [line for line in table.splitlines()
            if line.startswith('| ') and not line.startswith('| check')]
    by_name = {row.split(' | ')[0][2:]: row for row in rows}
    for check in report['checks']:
        row = by_name[check['name']]
        assert f" | {check['status']} | {check['seconds']:.1f} | " in row
    fp32 = report['checks'][CHECKS.index('adaptseg_fp32')]['figures']
    assert f"mIoU {fp32['mIoU']:g}" in by_name['adaptseg_fp32']
    assert 'CUDA only: ' in by_name['target_peak_memory']
    full = report['checks'][CHECKS.index('fullres_adaptseg_fp32')]['figures']
    assert (f"| fp32 | {full['ms_per_iter']} | {full['plain_ms_per_iter']} | "
            f"{full['ours_plain_ratio']} | {full['peak_rss_mb']} |") in table
    assert f'**{len(CHECKS) - len(CUDA_ONLY)} passed, 0 failed, ' \
           f'{len(CUDA_ONLY)} skipped**' in table


@pytest.mark.slow
def test_full_mode_refuses_a_machine_without_gpu(repo_root, tmp_path):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES='')
    work = str(tmp_path / 'work')
    proc = _run(repo_root, '--work-dir', work, env=env)
    assert proc.returncode != 0
    assert 'no CUDA GPU is available' in proc.stderr
    assert '--tiny' in proc.stderr
    assert not osp.exists(work)


@pytest.mark.slow
def test_a_failing_check_is_reported_and_sets_the_exit_code(repo_root,
                                                            tmp_path):
    # the re-ranking needs the ranking of rank_targets, not selected here
    out = str(tmp_path / 'r.json')
    proc = _run(repo_root, '--tiny', '--only', 'environment', 'rerank*',
                '--work-dir', str(tmp_path / 'work'), '--data-root',
                str(tmp_path / 'data'), '--out', out)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.load(open(out))
    status = {c['name']: (c['status'], c['reason'])
              for c in report['checks']}
    assert status['environment'] == ('pass', None)
    assert status['rerank_2rank'][0] == 'fail'
    assert 'the ranking of the rank_targets check' in \
        status['rerank_2rank'][1]
    assert report['counts'] == {'pass': 1, 'fail': 1, 'skip': 0}
    assert '| rerank_2rank | FAIL |' in proc.stdout


@pytest.mark.slow
def test_work_dir_of_something_else_is_refused(repo_root, tmp_path):
    work = tmp_path / 'precious'
    work.mkdir()
    (work / 'keep.txt').write_text('x')
    proc = _run(repo_root, '--tiny', '--work-dir', str(work))
    assert proc.returncode != 0
    assert 'was not made by gpu_check' in proc.stderr
    assert (work / 'keep.txt').read_text() == 'x'


def test_run_check_records_errors_skips_and_figures(repo_root):
    sys.path.insert(0, osp.join(repo_root, 'tools', 'analysis_tools'))
    try:
        from gpu_check import run_check
        from gpu_check_runs import CheckContext, CheckSkipped
    finally:
        sys.path.pop(0)
    ctx = CheckContext(repo=repo_root, work_dir='unused', data_root='unused',
                       tiny=True, configs={}, timeout=1, num_target_train=1)

    def broken(ctx):
        raise ZeroDivisionError('boom')

    def skipped(ctx):
        raise CheckSkipped('not here')

    record = run_check(ctx, 'broken', broken, None)
    assert record['status'] == 'fail'
    assert record['reason'] == 'ZeroDivisionError: boom'
    assert 'ZeroDivisionError' in record['traceback']
    assert run_check(ctx, 's', skipped, None)['reason'] == 'not here'
    # CUDA-only checks are not even called in tiny mode
    record = run_check(ctx, 'cuda', broken, 'CUDA only: why')
    assert (record['status'], record['reason']) == ('skip', 'CUDA only: why')
    record = run_check(ctx, 'ok', lambda ctx: dict(x=1.5), None)
    assert (record['status'], record['figures']) == ('pass', dict(x=1.5))
    assert ctx.results == dict(ok=dict(x=1.5))
