"""EntropyRanker: entropy, rare-class normaliser, splits and files."""
import json
import math
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmseg_uda.datasets.ranking_dir import (RankingDir, image_key,
                                            rare_normalizer, read_lines,
                                            split_ranking)
from mmseg_uda.datasets.target_set import ranking_dataset_cfg
from mmseg_uda.evaluation.metrics import EntropyRanker
from mmseg_uda.evaluation.metrics.entropy_ranker import (RARE_CLASSES,
                                                         entropy_map,
                                                         score_logits)
from tests.reference.intrada_entropy import intrada_score, parse_normalize


def test_entropy_map_values():
    # uniform -> 1, (almost) one-hot -> 0, two classes p=(0.75, 0.25) of 4
    logits = torch.zeros(4, 1, 3)
    logits[:, 0, 1] = torch.tensor([100.0, 0, 0, 0])
    logits[:, 0, 2] = torch.tensor([math.log(3), 0, -1e4, -1e4])
    ent = entropy_map(logits)
    expected = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25)) / 2
    torch.testing.assert_close(ent[0, 0], torch.tensor(1.0))
    assert float(ent[0, 1]) < 1e-6
    assert float(ent[0, 2]) == pytest.approx(expected, rel=1e-5)


def test_score_logits_rare_classes_and_argmax():
    logits = torch.zeros(19, 2, 2)
    for (y, x), c in zip(((0, 0), (0, 1), (1, 0), (1, 1)), (3, 3, 9, 0)):
        logits[c, y, x] = 5.0
    entropy, present, pred = score_logits(logits)
    assert present == [3, 9]
    np.testing.assert_array_equal(pred, [[3, 3], [9, 0]])
    p = math.exp(5) / (math.exp(5) + 18)
    q = 1 / (math.exp(5) + 18)
    by_hand = -(p * math.log2(p) + 18 * q * math.log2(q)) / math.log2(19)
    # IntraDA's score: averaged over the 19 classes as well
    assert entropy == pytest.approx(by_hand / 19, rel=1e-5)


@pytest.mark.parametrize('rare', [False, True])
def test_scores_are_intradas(rare):
    """feipan664/IntraDA entropy_rank/entropy.py (re-stated in
    tests/reference/intrada_entropy.py): the mean over classes and pixels of
    ADVENT's weighted self-information map, times the rare-class normaliser
    with normalisation; not 19x that."""
    gen = torch.Generator().manual_seed(0)
    for scale in (0.5, 3.0, 20.0):
        logits = torch.randn(19, 64, 128, generator=gen) * scale
        logits[3, :8] += 30  # a rare class present
        entropy, present, _ = score_logits(logits)
        score = entropy * (rare_normalizer(len(present)) if rare else 1.0)
        expected = intrada_score(logits[None], normalize=rare)
        assert score == pytest.approx(expected, rel=1e-6, abs=1e-12)


def test_intradas_normalize_flag_is_on_with_false():
    """IntraDA's README runs ``entropy.py --normalize False``; the flag is
    ``type=bool`` and ``bool('False')`` is True: that command ranks with the
    normaliser (our ``--rare-normalize``, the 47.0 setting); without the
    flag it ranks without (our default, the 46.3 setting)."""
    assert parse_normalize(['--normalize', 'False']) is True
    assert parse_normalize([]) is False


def test_rare_normalizer_and_rounding():
    # feipan664/IntraDA entropy_rank/entropy.py: ``rare_class`` and
    # ``normalizor = (11 - len(find_rare_class(pred))) / 11.0 + 0.5``
    assert RARE_CLASSES == (3, 4, 5, 6, 7, 9, 12, 14, 15, 16, 17)
    assert rare_normalizer(0) == pytest.approx(1.5)
    assert rare_normalizer(11) == pytest.approx(0.5)
    assert rare_normalizer(2) == pytest.approx(9 / 11 + 0.5)
    names = [f'c/{i:04d}' for i in range(2975)]
    easy, hard = split_ranking(names, [-i for i in range(2975)], 0.67)
    assert len(easy) == 1993 and len(hard) == 982  # int(2975 * 0.67)
    assert easy[0] == 'c/2974' and hard[-1] == 'c/0000'
    # ties are broken by name
    assert split_ranking(['b', 'a', 'c'], [1, 1, 0], 0.67) == (['c', 'a'],
                                                               ['b'])


def test_image_key():
    assert image_key('/d/leftImg8bit/train/aachen/'
                     'aachen_000001_000019_leftImg8bit.png') == \
        'aachen/aachen_000001_000019'
    with pytest.raises(ValueError):
        image_key('/d/x/a.jpg')


def _sample(city, i, logits):
    return dict(img_path=f'/d/{city}/{city}_{i:06d}_000019_leftImg8bit.png',
                seg_logits=dict(data=logits))


@pytest.mark.parametrize('rare', [False, True])
def test_metric_writes_splits_scores_and_pseudo_labels(tmp_path, rare):
    out = str(tmp_path)
    gen = torch.Generator().manual_seed(0)
    samples = []
    for i in range(5):
        logits = torch.randn(19, 4, 6, generator=gen) * (i + 1)
        samples.append(_sample('x', i, logits))
    metric = EntropyRanker(out_dir=out, easy_ratio=0.5, rare_normalize=rare)
    metric.process({}, samples[:2])
    metric.process({}, samples[2:])
    summary = metric.compute_metrics(metric.results)
    expected = {}
    for s in samples:
        logits = s['seg_logits']['data']
        # IntraDA's entropy_rank/entropy.py, re-stated
        score = intrada_score(logits[None], normalize=rare)
        pred = logits.argmax(0).numpy()
        expected[image_key(s['img_path'])] = (score, pred)
    ranked = sorted(expected, key=lambda k: expected[k][0])
    easy = read_lines(osp.join(out, 'easy_split.txt'))
    hard = read_lines(osp.join(out, 'hard_split.txt'))
    assert easy == ranked[:2] and hard == ranked[2:]  # int(5 * 0.5) = 2
    assert summary['num_images'] == 5 and summary['num_easy'] == 2
    rows = RankingDir(out).read_scores()
    assert [r['name'] for r in rows] == ranked
    for row in rows:
        assert row['score'] == pytest.approx(expected[row['name']][0],
                                             rel=1e-5)
    for name in ranked:
        pred = cv2.imread(osp.join(out, 'predictions',
                                   f'{name}_gtFine_labelTrainIds.png'),
                          cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(pred, expected[name][1])
        pseudo = osp.join(out, 'pseudo_labels',
                          f'{name}_gtFine_labelTrainIds.png')
        assert osp.isfile(pseudo) == (name in easy)
        with open(osp.join(out, 'per_image', f'{name}.json')) as f:
            assert json.load(f)['shape'] == [4, 6]
    assert not list(tmp_path.rglob('*.tmp'))


def test_ranking_dataset_cfg(repo_root):
    cfg = Config.fromfile(
        osp.join(repo_root, 'configs/adaptseg/deeplabv2_r101_gta2cs.py'))
    dataset = ranking_dataset_cfg(cfg)
    assert dataset['data_prefix'] == dict(img_path='leftImg8bit/train')
    assert [t['type'] for t in dataset['pipeline']] == [
        'LoadImageFromFile', 'Resize', 'PackSegInputs']
    assert dataset['pipeline'][1]['scale'] == (1024, 512)
