"""Property tests of ADVENT's entropy formulas: the self-information map,
the entropy loss and IntraDA's ranking score, against a float64 restatement
of ``-sum_c p log p / log C``."""
import json
import tempfile

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import mmseg_uda  # noqa: F401
from mmseg_uda.evaluation.metrics import EntropyRanker
from mmseg_uda.evaluation.metrics.entropy_ranker import (entropy_map,
                                                         score_logits)
from mmseg_uda.datasets.ranking_dir import RankingDir
from mmseg_uda.models.losses import entropy_loss, self_information_map

pytestmark = pytest.mark.reliability

PROPS = settings(max_examples=60, deadline=None, derandomize=True)
# float32 rounding of sums of at most 8 terms of size <= 1
ATOL = 2e-6

shapes = st.tuples(st.integers(1, 3), st.integers(2, 8), st.integers(1, 5),
                   st.integers(1, 5))
logit_arrays = shapes.flatmap(lambda shape: hnp.arrays(
    np.float32, shape, elements=st.floats(-30, 30, width=32)))
# multiples of 1/1024 in [-30, 30]: adding an integer in [-64, 64] is exact
dyadic_logit_arrays = shapes.flatmap(lambda shape: hnp.arrays(
    np.int32, shape, elements=st.integers(-30 * 1024, 30 * 1024))).map(
        lambda a: (a / 1024).astype(np.float32))
# weights with exact zeros (and one-hot pixels) normalised to probabilities
prob_arrays = shapes.flatmap(lambda shape: hnp.arrays(
    np.float32, shape,
    elements=st.one_of(st.just(0.0), st.floats(0, 1, width=32)))).map(
        lambda w: np.where(w.sum(1, keepdims=True) > 0, w, 1) /
        np.where(w.sum(1, keepdims=True) > 0, w, 1).sum(1, keepdims=True))


@pytest.fixture(autouse=True, scope='module')
def single_thread():
    """Tiny tensors: thread-pool start-up would dominate every call."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def reference_entropy(probs):
    """Normalised entropy per pixel in float64, ``0 log 0 = 0``: (N, H, W).
    """
    p = np.asarray(probs, dtype=np.float64)
    terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1)), 0)
    return terms.sum(1) / np.log(p.shape[1])


def softmax64(logits):
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@PROPS
@given(prob_arrays)
def test_self_information_is_nonnegative_and_sums_to_entropy(probs):
    probs = torch.from_numpy(probs.astype(np.float32))
    info = self_information_map(probs)
    assert info.shape == probs.shape
    assert torch.isfinite(info).all()
    assert (info >= 0).all()
    ent = info.sum(1)
    assert (ent >= 0).all() and (ent <= 1 + ATOL).all()
    np.testing.assert_allclose(ent.numpy(), reference_entropy(probs),
                               rtol=0, atol=ATOL)
    # classes with probability exactly 0 or 1 contribute exactly 0
    assert (info[(probs == 0) | (probs == 1)] == 0).all()


@PROPS
@given(logit_arrays)
def test_normalised_entropy_of_any_softmax_is_in_unit_interval(logits):
    logits = torch.from_numpy(logits)
    probs = torch.softmax(logits, dim=1)
    ent = self_information_map(probs).sum(1)
    assert (ent >= 0).all() and (ent <= 1 + ATOL).all()
    expected = reference_entropy(softmax64(logits))
    np.testing.assert_allclose(ent.numpy(), expected, rtol=0, atol=ATOL)
    for image, image_logits in zip(ent, logits):  # the ranker's map
        ranker = entropy_map(image_logits)
        assert ranker.shape == image.shape
        assert (ranker >= 0).all() and (ranker <= 1 + ATOL).all()
        np.testing.assert_allclose(ranker.numpy(), image.numpy(), rtol=0,
                                   atol=ATOL)


@PROPS
@given(shapes, st.floats(-30, 30, width=32), st.data())
def test_uniform_gives_one_and_one_hot_gives_zero(shape, value, data):
    n, c, h, w = shape
    uniform = torch.full(shape, 1 / c)
    np.testing.assert_allclose(
        self_information_map(uniform).sum(1).numpy(), 1, rtol=0, atol=ATOL)
    assert abs(entropy_loss(uniform).item() - 1) <= ATOL
    # equal logits, whatever their value: a uniform softmax
    flat = torch.full((c, h, w), value)
    np.testing.assert_allclose(entropy_map(flat).numpy(), 1, rtol=0,
                               atol=ATOL)
    hot = data.draw(hnp.arrays(np.int64, (n, h, w),
                               elements=st.integers(0, c - 1)))
    one_hot = torch.nn.functional.one_hot(torch.from_numpy(hot), c)
    one_hot = one_hot.permute(0, 3, 1, 2).float()
    assert (self_information_map(one_hot) == 0).all()
    assert entropy_loss(one_hot).item() == 0
    # a logit 200 above the others saturates the float32 softmax
    saturated = one_hot[0] * 200 + value
    assert (entropy_map(saturated) == 0).all()


@PROPS
@given(dyadic_logit_arrays, st.integers(-64, 64))
def test_adding_a_constant_to_logits_changes_nothing(logits, shift):
    logits = torch.from_numpy(logits)
    shifted = logits + shift  # exact for these logits
    assert torch.equal(shifted - shift, logits)
    init_default_scope('mmseg')
    loss = MODELS.build(dict(type='EntropyLoss'))
    assert loss(shifted).item() == loss(logits).item()
    for image, moved in zip(logits, shifted):
        assert torch.equal(entropy_map(moved), entropy_map(image))
        assert score_logits(moved)[0] == score_logits(image)[0]


@PROPS
@given(logit_arrays, st.floats(-100, 100, width=32))
def test_any_constant_shift_within_float32_rounding(logits, shift):
    logits = torch.from_numpy(logits)
    shifted = logits + shift
    # |shift| + 30 < 2**7: each shifted logit moves by < 2**-17; entropy
    # changes by at most that times sum_c p_c |log p_c + H| < log C + 1
    tol = 2 ** -17 * (np.log(logits.shape[1]) + 1) + ATOL
    np.testing.assert_allclose(
        self_information_map(torch.softmax(shifted, 1)).sum(1).numpy(),
        self_information_map(torch.softmax(logits, 1)).sum(1).numpy(),
        rtol=0, atol=tol)


@PROPS
@given(logit_arrays, st.randoms())
def test_permuting_classes_changes_nothing(logits, random):
    logits = torch.from_numpy(logits)
    order = list(range(logits.shape[1]))
    random.shuffle(order)
    probs = torch.softmax(logits, 1)
    info = self_information_map(probs)
    # element-wise: the map of permuted classes is the permuted map
    assert torch.equal(self_information_map(probs[:, order]),
                       info[:, order])
    assert abs(entropy_loss(probs[:, order]).item() -
               entropy_loss(probs).item()) <= ATOL
    for image in logits:
        np.testing.assert_allclose(entropy_map(image[order]).numpy(),
                                   entropy_map(image).numpy(), rtol=0,
                                   atol=ATOL)


@PROPS
@given(logit_arrays, st.floats(0, 10), st.randoms())
def test_loss_is_the_mean_over_pixels(logits, weight, random):
    logits = torch.from_numpy(logits)
    probs = torch.softmax(logits, 1)
    expected = reference_entropy(softmax64(logits)).mean()
    value = entropy_loss(probs).item()
    assert 0 <= value <= 1 + ATOL
    assert abs(value - expected) <= ATOL
    init_default_scope('mmseg')
    module = MODELS.build(dict(type='EntropyLoss', loss_weight=weight))
    assert abs(module(logits).item() - weight * expected) <= \
        weight * ATOL + 1e-12
    direct = MODELS.build(dict(type='EntropyLoss', use_softmax=False))
    assert direct(probs).item() == value
    # the images' order does not matter, each image weighs H*W pixels
    order = list(range(logits.shape[0]))
    random.shuffle(order)
    assert abs(entropy_loss(probs[order]).item() - value) <= ATOL
    per_image = [entropy_loss(p[None]).item() for p in probs]
    assert abs(np.mean(per_image) - value) <= ATOL


@PROPS
@given(logit_arrays)
def test_ranker_score_is_the_mean_of_the_entropy_map_over_classes(logits):
    # IntraDA's score: the entropy map's mean divided by the class count
    logits = torch.from_numpy(logits)
    for image in logits:
        num_classes = image.shape[0]
        score, _, pred = score_logits(image)
        assert 0 <= score <= 1 / num_classes + ATOL
        assert abs(score - entropy_map(image).mean().item() / num_classes) \
            <= ATOL
        assert abs(score - entropy_loss(
            torch.softmax(image, 0)[None]).item() / num_classes) <= ATOL
        expected = reference_entropy(softmax64(image[None])).mean()
        assert abs(score - expected / num_classes) <= ATOL
        np.testing.assert_array_equal(pred, image.argmax(0).numpy())


def _samples(logits):
    return [dict(img_path=f'/d/x/x_{i:06d}_000019_leftImg8bit.png',
                 seg_logits=dict(data=image))
            for i, image in enumerate(logits)]


@settings(max_examples=30, deadline=None, derandomize=True)
@given(logit_arrays, st.randoms(), st.integers(1, 3))
def test_ranker_scores_do_not_depend_on_image_order(logits, random, batch):
    samples = _samples(torch.from_numpy(logits))
    shuffled = list(samples)
    random.shuffle(shuffled)
    scores = []
    for order, size in ((samples, 1), (shuffled, batch)):
        with tempfile.TemporaryDirectory() as out:
            ranker = EntropyRanker(out_dir=out)
            for i in range(0, len(order), size):
                ranker.process({}, order[i:i + size])
            found = {}
            for name in ranker.results:
                with open(RankingDir(out).per_image_path(name)) as f:
                    found[name] = json.load(f)['entropy']
        scores.append(found)
    assert scores[0] == scores[1]
    for sample in samples:
        name = 'x/' + sample['img_path'].split('/')[-1][:-len(
            '_leftImg8bit.png')]
        assert scores[0][name] == score_logits(
            sample['seg_logits']['data'])[0]
