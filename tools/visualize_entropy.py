"""Draw IntraDA's entropy ranking: image | prediction | entropy map for a
few ranked target images, and a histogram of the scores with the easy/hard
cut::

    python tools/visualize_entropy.py CONFIG CHECKPOINT --rank-dir DIR
        --out OUT.png [--num 4] [--cfg-options KEY=VALUE ...]

The images are picked evenly along the ranking (easiest to hardest) of
``DIR/scores.csv`` written by ``tools/rank_targets.py`` and run at the
ranking resolution. The figure is written atomically.
"""
import argparse
import os.path as osp
import sys
from typing import List

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmseg.datasets import CityscapesDataset  # noqa: E402
from mmseg.registry import DATASETS  # noqa: E402

from mmseg_uda.datasets.ranking_dir import (RankingDir,  # noqa: E402
                                            image_key)
from mmseg_uda.datasets.target_set import ranking_dataset_cfg  # noqa: E402
from mmseg_uda.evaluation.metrics.entropy_ranker import \
    entropy_map  # noqa: E402
from mmseg_uda.evaluation.target_set_loop import (  # noqa: E402
    RANKING_TEST_CFG, find_segmentor)
from mmseg_uda.utils.atomic_io import atomic_write  # noqa: E402

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
from tools.demo.report import colorize, load_model  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Draw predictions and entropy maps of ranked images')
    parser.add_argument('config', help='config of the adapted model')
    parser.add_argument('checkpoint', help='checkpoint of the adapted model')
    parser.add_argument('--rank-dir', required=True,
                        help='--work-dir of tools/rank_targets.py')
    parser.add_argument('--out', required=True, help='output PNG')
    parser.add_argument('--num', type=int, default=4,
                        help='number of images to draw')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config (key=value)')
    return parser.parse_args()


def pick(num_ranked: int, num: int) -> List[int]:
    """Indices spread evenly from the easiest to the hardest image."""
    if num_ranked == 0 or num <= 0:
        return []
    idx = np.linspace(0, num_ranked - 1, min(num, num_ranked))
    return sorted(set(int(round(i)) for i in idx))


def draw(rows: List[dict], scores: List[dict], out: str) -> None:
    """Write the figure: one row per image, the histogram below.

    Args:
        rows (list[dict]): ``img`` (BGR), ``pred``, ``entropy``, ``title``.
        scores (list[dict]): Rows of ``scores.csv``, easiest first.
        out (str): Output PNG.
    """
    palette = CityscapesDataset.METAINFO['palette']
    fig = plt.figure(figsize=(12, 2.6 * len(rows) + 3), dpi=100)
    grid = fig.add_gridspec(len(rows) + 1, 3)
    for r, row in enumerate(rows):
        panels = (('image', row['img'][..., ::-1]),
                  ('prediction', colorize(row['pred'], palette)[..., ::-1]),
                  ('entropy', row['entropy']))
        for c, (title, img) in enumerate(panels):
            ax = fig.add_subplot(grid[r, c])
            kwargs = dict(cmap='viridis', vmin=0, vmax=1) if c == 2 else {}
            shown = ax.imshow(img, **kwargs)
            if c == 2:
                fig.colorbar(shown, ax=ax, fraction=0.025)
            ax.set_title(f'{title}: {row["title"]}' if c == 0 else title,
                         fontsize=8)
            ax.axis('off')
    ax = fig.add_subplot(grid[len(rows), :])
    easy = [s['score'] for s in scores if s['split'] == 'easy']
    hard = [s['score'] for s in scores if s['split'] == 'hard']
    values = easy + hard
    bins = np.linspace(min(values), max(values), 31) if values else 10
    ax.hist([easy, hard], bins=bins, stacked=True, label=[
        f'easy ({len(easy)})', f'hard ({len(hard)})'],
        color=['tab:green', 'tab:red'])
    if easy and hard:
        ax.axvline((easy[-1] + hard[0]) / 2, color='k', linestyle='--',
                   label='cut')
    ax.set_xlabel('score (mean normalised entropy)')
    ax.set_ylabel('images')
    ax.legend()
    fig.tight_layout()
    atomic_write(out, lambda tmp: fig.savefig(tmp, format='png'))
    plt.close(fig)


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    scores = RankingDir(args.rank_dir).read_scores()
    chosen = [scores[i] for i in pick(len(scores), args.num)]
    model = load_model(cfg, args.checkpoint)
    dataset = DATASETS.build(ranking_dataset_cfg(cfg))
    suffix = getattr(dataset, 'img_suffix', '_leftImg8bit.png')
    index = {image_key(dataset.get_data_info(i)['img_path'], suffix): i
             for i in range(len(dataset))}
    rows = []
    # the logits the ranker scored: at the input size
    with torch.no_grad(), find_segmentor(model).test_cfg_options(
            **RANKING_TEST_CFG):
        for rec in chosen:
            if rec['name'] not in index:
                raise KeyError(f"{rec['name']} is not in the ranked dataset")
            item = dataset[index[rec['name']]]
            batch = dict(inputs=[item['inputs']],
                         data_samples=[item['data_samples']])
            out = model.test_step(batch)[0]
            logits = out.seg_logits.data
            rows.append(dict(
                img=item['inputs'].permute(1, 2, 0).numpy(),
                pred=logits.argmax(0).numpy().astype(np.uint8),
                entropy=entropy_map(logits).numpy(),
                title=f"{osp.basename(rec['name'])} {rec['split']} "
                f"score {rec['score']:.4f}"))
    draw(rows, scores, args.out)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
