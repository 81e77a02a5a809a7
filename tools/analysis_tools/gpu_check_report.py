"""The GPU check's report: one JSON file and a markdown table next to it."""
import json
import os.path as osp
from typing import Dict, List

from mmseg_uda.utils.atomic_io import atomic_write_text

STATUSES = ('pass', 'fail', 'skip')
FULLRES_PREFIX = 'fullres_adaptseg_'
_ENV_KEYS = ('gpu', 'torch', 'cuda', 'cudnn', 'mmcv', 'mmcv_ops', 'mmseg',
             'mmengine', 'python')


def _value(value) -> str:
    if isinstance(value, float):
        return f'{value:g}'
    return str(value)


def figures_text(figures: Dict) -> str:
    """``key value, key value`` for a table cell."""
    return ', '.join(f'{k} {_value(v)}' for k, v in figures.items())


def _cell(text: str) -> str:
    return text.replace('|', '\\|').replace('\n', ' ')


def summary(checks: List[Dict]) -> Dict[str, int]:
    """Number of checks per status."""
    return {s: sum(c['status'] == s for c in checks) for s in STATUSES}


def markdown(report: Dict) -> str:
    """The report as markdown: header, one row per check, full-resolution
    figures, totals."""
    env = report['environment']
    mode = ('tiny (CPU, tiny sizes)' if report['mode'] == 'tiny' else
            'GPU')
    lines = [f"# GPU check: {mode}, {report['date']}", '']
    known = [f'{k} {env[k]}' for k in _ENV_KEYS if k in env]
    if known:
        lines += ['; '.join(known), '']
    lines += ['| check | result | seconds | figures |',
              '|---|---|---|---|']
    for check in report['checks']:
        text = figures_text(check['figures'])
        if check.get('reason'):
            reason = check['reason'].strip().splitlines()[0]
            text = f'{text}; {reason}' if text else reason
        result = check['status'].upper() if check['status'] == 'fail' \
            else check['status']
        lines.append(f"| {check['name']} | {result} | "
                     f"{check['seconds']:.1f} | {_cell(text)} |")
    rows = [c for c in report['checks']
            if c['name'].startswith(FULLRES_PREFIX) and c['status'] == 'pass']
    if rows:
        memory = 'peak GPU MB' if report['mode'] != 'tiny' else 'peak RSS MB'
        lines += ['', '| full-resolution run | ms/iteration | plain ms | '
                  f'ours/plain | {memory} |', '|---|---|---|---|---|']
        for check in rows:
            fig = check['figures']
            peak = fig.get('peak_gpu_mb', fig.get('peak_rss_mb', '-'))
            lines.append(
                f"| {check['name'][len(FULLRES_PREFIX):]} | "
                f"{fig['ms_per_iter']} | {fig.get('plain_ms_per_iter', '-')} "
                f"| {fig.get('ours_plain_ratio', '-')} | {peak} |")
    counts = report['counts']
    lines += ['', f"**{counts['pass']} passed, {counts['fail']} failed, "
              f"{counts['skip']} skipped** in {report['seconds']:.0f} s", '']
    return '\n'.join(lines)


def write_report(report: Dict, out_json: str) -> str:
    """Write ``out_json`` and the markdown next to it (``.md``); return the
    markdown."""
    text = markdown(report)
    atomic_write_text(out_json, json.dumps(report, indent=2) + '\n')
    atomic_write_text(osp.splitext(out_json)[0] + '.md', text)
    return text
