"""Property tests of the pseudo-label rules of PseudoLabelGenerator (bdl,
fixed, argmax): shapes, label values, thresholds, ignore handling and
independence of the order in which images are processed."""
import tempfile
from random import Random

import cv2
import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mmseg_uda.evaluation.metrics.pseudo_label_generator import \
    PseudoLabelGenerator
from mmseg_uda.datasets.pseudo_label_dir import PseudoLabelDir
from tests.reference.bdl_ssl import bdl_pseudo_labels

pytestmark = pytest.mark.reliability

PROPS = settings(max_examples=30, deadline=None, derandomize=True)
IGNORE = 255
sides = st.integers(1, 5)


@st.composite
def prob_maps(draw, same_shape=False):
    """(C, H, W) float32 probabilities of 1-4 images.

    Some classes get probability 0 everywhere (never predicted). Weights
    are either small integers (many equal confidences, argmax ties) or
    exponentials of floats (confidences up to almost 1).
    """
    num_classes = draw(st.integers(2, 5))
    absent = sorted(draw(st.sets(st.integers(0, num_classes - 1),
                                 max_size=num_classes - 1)))
    quantised = draw(st.booleans())
    shape = (draw(sides), draw(sides))
    maps = []
    for _ in range(draw(st.integers(1, 4))):
        if not same_shape:
            shape = (draw(sides), draw(sides))
        full = (num_classes, *shape)
        if quantised:
            weights = draw(hnp.arrays(np.int64, full,
                                      elements=st.integers(1, 6)))
        else:
            weights = np.exp(draw(hnp.arrays(
                np.float64, full, elements=st.floats(-8, 8))))
        weights = weights.astype(np.float64)
        weights[absent] = 0
        maps.append((weights / weights.sum(0)).astype(np.float32))
    return maps


def name_of(index):
    return f'city{index % 2}/city{index % 2}_{index:06d}_000019'


def run_rule(maps, order, batch, **kwargs):
    """Feed the images in ``order``, ``batch`` at a time, and evaluate.

    Returns:
        tuple: labels (list, in image index order), summary, metrics.
    """
    with tempfile.TemporaryDirectory() as out:
        metric = PseudoLabelGenerator(out, **kwargs)
        for start in range(0, len(order), batch):
            samples = []
            for index in order[start:start + batch]:
                city, stem = name_of(index).split('/')
                samples.append(dict(
                    img_path=f'/data/leftImg8bit/train/{city}/'
                    f'{stem}_leftImg8bit.png',
                    seg_logits=dict(data=torch.from_numpy(maps[index]))))
            metric.process({}, samples)
        metrics = metric.evaluate(len(order))
        labels = [cv2.imread(PseudoLabelDir(out).label_path(name_of(i)),
                             cv2.IMREAD_UNCHANGED) for i in range(len(maps))]
        summary = PseudoLabelDir(out).read_summary()
    return labels, summary, metrics


def run_twice(maps, random, batch, **kwargs):
    """Run in index order and in a shuffled order: both give the same."""
    order = list(range(len(maps)))
    first = run_rule(maps, order, 1, **kwargs)
    random.shuffle(order)
    second = run_rule(maps, order, batch, **kwargs)
    for one, other in zip(first[0], second[0]):
        np.testing.assert_array_equal(one, other)
    assert first[1] == second[1]
    assert first[2] == second[2]
    return first


def check_labels(maps, labels):
    """Shapes, dtype and values; every kept pixel holds the argmax."""
    num_classes = maps[0].shape[0]
    for prob, label in zip(maps, labels):
        assert label.shape == prob.shape[1:]
        assert label.dtype == np.uint8
        assert set(np.unique(label).tolist()) <= set(range(num_classes)) | {
            IGNORE}
        kept = label != IGNORE
        np.testing.assert_array_equal(label[kept],
                                      prob.argmax(0)[kept])
        # classes with probability 0 everywhere are never labelled
        never = prob.max(axis=(1, 2)) == 0
        assert not np.isin(label, np.flatnonzero(never)).any()


def bdl_thresholds(maps, quantile, cap):
    """Per class: the ``round(n * quantile)``-th smallest confidence of the
    pixels predicted as that class over all images, capped; 0 if none."""
    argmax = np.concatenate([p.argmax(0).ravel() for p in maps])
    conf = np.concatenate([p.max(0).ravel() for p in maps])
    thresholds = np.zeros(maps[0].shape[0])
    for c in range(len(thresholds)):
        values = np.sort(conf[argmax == c].astype(np.float64))
        if len(values):
            index = min(int(np.round(len(values) * quantile)),
                        len(values) - 1)
            thresholds[c] = min(values[index], cap)
    return thresholds, argmax, conf


@PROPS
@given(prob_maps(), st.randoms(), st.integers(1, 4))
def test_bdl_rule(maps, random, batch):
    labels, summary, metrics = run_twice(maps, random, batch, rule='bdl')
    check_labels(maps, labels)
    num_classes = maps[0].shape[0]
    thresholds = np.array(summary['thresholds'])
    expected, argmax, conf = bdl_thresholds(maps, 0.5, 0.9)
    assert thresholds.shape == (num_classes, )
    np.testing.assert_array_equal(thresholds, expected)
    assert ((thresholds >= 0) & (thresholds <= 0.9)).all()
    counts = np.bincount(argmax, minlength=num_classes)
    assert summary['argmax_counts'] == counts.tolist()
    for c in range(num_classes):
        assert metrics[f'pseudo_label/threshold_{c}'] == thresholds[c]
        if counts[c]:  # at or above the median, BDL's x[round(n / 2)]
            median = np.median(conf[argmax == c].astype(np.float64))
            assert thresholds[c] >= min(median, 0.9)
        else:  # never predicted: no threshold, nothing labelled
            assert thresholds[c] == 0
    for prob, label in zip(maps, labels):
        pred, confidence = prob.argmax(0), prob.max(0).astype(np.float64)
        # kept exactly where the confidence reaches the class threshold
        np.testing.assert_array_equal(
            label != IGNORE, confidence >= thresholds[pred])
    labelled = np.concatenate([label.ravel() for label in labels])
    assert summary['labelled_counts'] == np.bincount(
        labelled, minlength=IGNORE + 1)[:num_classes].tolist()


@PROPS
@given(prob_maps(same_shape=True), st.floats(0, 0.5), st.floats(0.3, 1))
def test_bdl_rule_equals_the_in_memory_original(maps, quantile, cap):
    # quantile <= 0.5: the original indexes past the end for larger ones
    labels, summary, _ = run_rule(maps, list(range(len(maps))), 2,
                                  rule='bdl', quantile=quantile, cap=cap)
    expected_labels, expected_thresholds = bdl_pseudo_labels(
        maps, maps[0].shape[0], quantile, cap)
    assert summary['thresholds'] == expected_thresholds.tolist()
    for label, expected in zip(labels, expected_labels):
        np.testing.assert_array_equal(label, expected)
    assert (np.array(summary['thresholds']) <= cap).all()


@st.composite
def maps_and_threshold(draw):
    """Maps and a threshold: any in [0, 1], or one of the confidences, or
    the float64 neighbour just above or below one of them."""
    maps = draw(prob_maps())
    kind = draw(st.sampled_from(['above', 'equal', 'below', 'any']))
    if kind == 'any':
        return maps, draw(st.floats(0, 1))
    conf = np.concatenate([p.max(0).ravel() for p in maps])
    value = float(conf[draw(st.integers(0, len(conf) - 1))])
    if kind == 'above':
        value = float(np.nextafter(value, np.inf))
    elif kind == 'below':
        value = float(np.nextafter(value, -np.inf))
    return maps, value


# one pixel of confidence float32(0.7) = 0.69999999: below a threshold of
# 0.7, equal to a threshold of float32(0.7)
EDGE_MAPS = [np.array([[[0.3]], [[0.7]]], dtype=np.float32)]


@PROPS
@given(maps_and_threshold(), st.randoms(), st.integers(1, 4))
@example((EDGE_MAPS, float(np.float32(0.7))), Random(0), 1)
@example((EDGE_MAPS, 0.7), Random(0), 1)
def test_fixed_rule_keeps_confidence_at_or_above_threshold(
        maps_threshold, random, batch):
    maps, threshold = maps_threshold
    labels, summary, metrics = run_twice(maps, random, batch, rule='fixed',
                                         threshold=threshold)
    check_labels(maps, labels)
    for prob, label in zip(maps, labels):
        # "below the threshold": compared as numbers, not after rounding
        # the threshold to float32
        confidence = prob.max(0).astype(np.float64)
        np.testing.assert_array_equal(label != IGNORE,
                                      confidence >= threshold)
    kept = sum(int((label != IGNORE).sum()) for label in labels)
    pixels = sum(label.size for label in labels)
    assert summary['num_pixels'] == pixels
    assert metrics['pseudo_label/labelled_fraction'] == kept / pixels


@PROPS
@given(prob_maps(), st.randoms(), st.integers(1, 4))
def test_argmax_rule_keeps_every_pixel(maps, random, batch):
    labels, summary, metrics = run_twice(maps, random, batch, rule='argmax')
    check_labels(maps, labels)
    for prob, label in zip(maps, labels):
        np.testing.assert_array_equal(label, prob.argmax(0))
    assert metrics['pseudo_label/labelled_fraction'] == 1.0
    assert summary['labelled_counts'] == np.bincount(
        np.concatenate([p.argmax(0).ravel() for p in maps]),
        minlength=maps[0].shape[0]).tolist()
