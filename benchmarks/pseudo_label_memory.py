"""Peak memory of the ``bdl`` pseudo-label generator on N vs 10N images.

Feeds random probability maps (default 19 x 256 x 512, float32) straight to
:class:`PseudoLabelGenerator` (no network), each image count in a fresh
process, and prints a table of the peaks and their ratio next to what BDL's
in-memory script would hold (two float64 maps per image)::

    python benchmarks/pseudo_label_memory.py [--num 4] [--factor 10]
        [--shape 19 256 512]

Columns: RSS growth (``ru_maxrss`` high-water after the run minus after
imports), tracemalloc peak (numpy's allocations included), the bytes the
generator holds between images (its result list), and BDL's arrays.
"""
import argparse
import json
import os.path as osp
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np

MB = 1 << 20
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def random_probabilities(rng: np.random.Generator, shape: tuple
                         ) -> np.ndarray:
    """Softmax of random logits, float32 (C, H, W)."""
    prob = rng.standard_normal(shape, dtype=np.float32)
    prob *= 3
    prob -= prob.max(axis=0)
    np.exp(prob, out=prob)
    prob /= prob.sum(axis=0)
    return prob


def deep_size(obj) -> int:
    """Bytes of a list/dict of strings and numbers (the metric's results)."""
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(deep_size(k) + deep_size(v) for k, v in obj.items())
    elif isinstance(obj, (list, tuple)):
        size += sum(deep_size(v) for v in obj)
    return size


def measure(num: int, shape: tuple) -> dict:
    """Run the generator on ``num`` images in this process."""
    if REPO_ROOT not in sys.path:
        sys.path.insert(0, REPO_ROOT)
    from mmseg_uda.evaluation.metrics.pseudo_label_generator import \
        PseudoLabelGenerator
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as out_dir:
        metric = PseudoLabelGenerator(out_dir, rule='bdl')
        start = time.perf_counter()
        tracemalloc.start()
        held = 0
        for i in range(num):
            prob = random_probabilities(rng, shape)
            metric.process({}, [dict(
                img_path=f'/d/leftImg8bit/train/c/c_{i:06d}_0_leftImg8bit'
                '.png', seg_logits=dict(data=prob))])
            del prob
            held = max(held, deep_size(metric.__dict__['results']))
        _, process_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        metric.compute_metrics(list(metric.results))
        _, compute_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        seconds = time.perf_counter() - start
        assert osp.isfile(osp.join(out_dir, 'pseudo_labels.json'))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return dict(num=num, rss_growth=rss - base_rss, rss=rss,
                process_peak=process_peak, compute_peak=compute_peak,
                held=held, seconds=seconds,
                bdl=num * shape[1] * shape[2] * 2 * 8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num', type=int, default=4)
    parser.add_argument('--factor', type=int, default=10)
    parser.add_argument('--shape', type=int, nargs=3, default=[19, 256, 512])
    parser.add_argument('--child', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print('\nRESULT ' + json.dumps(measure(args.child, tuple(args.shape))))
        return
    rows = []
    for num in (args.num, args.num * args.factor):
        proc = subprocess.run(
            [sys.executable, __file__, '--child', str(num), '--shape',
             *map(str, args.shape)], capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(proc.stderr)
        line = [t for t in proc.stdout.splitlines() if t.startswith('RESULT ')]
        rows.append(json.loads(line[-1][len('RESULT '):]))
    print(f'bdl pseudo-labels, maps {"x".join(map(str, args.shape))}')
    head = (f'{"images":>7} {"RSS growth":>11} {"peak RSS":>9} '
            f'{"tracemalloc process":>20} {"compute":>8} {"held":>9} '
            f'{"BDL arrays":>11} {"time":>7}')
    print(head)
    for r in rows:
        print(f'{r["num"]:>7} {r["rss_growth"] / MB:>9.1f}MB '
              f'{r["rss"] / MB:>7.1f}MB {r["process_peak"] / MB:>18.1f}MB '
              f'{r["compute_peak"] / MB:>6.1f}MB {r["held"]:>8}B '
              f'{r["bdl"] / MB:>9.1f}MB {r["seconds"]:>6.1f}s')
    small, large = rows
    for key, label in (('rss_growth', 'RSS growth'),
                       ('process_peak', 'tracemalloc process peak'),
                       ('compute_peak', 'tracemalloc compute peak'),
                       ('bdl', 'BDL arrays')):
        print(f'ratio {args.factor}N/N {label}: '
              f'{large[key] / max(small[key], 1):.2f}')


if __name__ == '__main__':
    main()
