"""PseudoLabelGenerator: BDL's labels in constant memory, other rules,
resume, output layout and errors."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from mmseg_uda.evaluation.metrics.pseudo_label_generator import \
    PseudoLabelGenerator
from mmseg_uda.datasets.pseudo_label_dir import PseudoLabelDir, rule_settings
from tests.reference.bdl_ssl import bdl_pseudo_labels

NUM_CLASSES = 5
ABSENT = 3


def make_probs(seed=0, num=7, size=(12, 16)):
    """Probability maps with ties, an absent class and a confident one."""
    rng = np.random.default_rng(seed)
    maps = []
    for i in range(num):
        logits = rng.normal(size=(NUM_CLASSES, *size)) * 2
        logits[ABSENT] -= 30  # never the argmax
        logits[0] += 6  # class 0: median confidence above 0.9
        prob = np.exp(logits - logits.max(0))
        prob = (prob / prob.sum(0)).astype(np.float32)
        if i % 2 == 0:  # quantised: many equal confidences
            prob = (np.round(prob * 32) / 32).astype(np.float32)
        prob[:, 0, :3] = np.float32(1 / NUM_CLASSES)  # argmax ties -> 0
        prob[:, 1, :2] = 0
        prob[1:3, 1, :2] = np.float32(0.5)  # tie of classes 1 and 2 -> 1
        maps.append(prob)
    return maps


def names_of(num):
    return [f'city{i % 2}/city{i % 2}_{i:06d}_000019' for i in range(num)]


def sample(name, prob):
    city, stem = name.split('/')
    return dict(img_path=f'/data/leftImg8bit/train/{city}/'
                f'{stem}_leftImg8bit.png',
                seg_logits=dict(data=torch.from_numpy(prob)))


def feed(metric, names, maps, batch=3):
    for i in range(0, len(names), batch):
        metric.process({}, [sample(n, p) for n, p in
                            zip(names[i:i + batch], maps[i:i + batch])])


def read_label(out_dir, name):
    return cv2.imread(PseudoLabelDir(out_dir).label_path(name),
                      cv2.IMREAD_UNCHANGED)


def snapshot(out_dir):
    files = {}
    for root, _, fs in os.walk(out_dir):
        for f in fs:
            with open(osp.join(root, f), 'rb') as fh:
                files[osp.relpath(osp.join(root, f), out_dir)] = fh.read()
    return files


@pytest.mark.parametrize('quantile,cap', [(0.5, 0.9), (0.3, 0.95),
                                          (0.75, 1.0), (0.0, 0.9)])
def test_bdl_rule_equals_the_in_memory_original(tmp_path, quantile, cap):
    maps = make_probs()
    names = names_of(len(maps))
    out = str(tmp_path)
    metric = PseudoLabelGenerator(out, rule='bdl', quantile=quantile,
                                  cap=cap)
    feed(metric, names, maps)
    assert osp.isdir(PseudoLabelDir(out).cache_dir())
    assert not osp.isdir(PseudoLabelDir(out).label_dir())
    metrics = metric.evaluate(len(names))

    labels, thres = bdl_pseudo_labels(maps, NUM_CLASSES, quantile, cap)
    summary = PseudoLabelDir(out).read_summary()
    assert summary['thresholds'] == thres.tolist()
    for name, expected in zip(names, labels):
        got = read_label(out, name)
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, expected)
    assert metrics['pseudo_label/num_images'] == len(names)
    assert metrics[f'pseudo_label/threshold_{ABSENT}'] == 0.0
    # removed after success
    assert not osp.isdir(PseudoLabelDir(out).cache_dir())

    stacked = np.stack(labels)
    argmax = np.stack([p.argmax(0) for p in maps])
    counts = np.bincount(argmax.ravel(), minlength=NUM_CLASSES)
    assert summary['argmax_counts'] == counts.tolist()
    assert summary['labelled_counts'] == np.bincount(
        stacked.ravel(), minlength=256)[:NUM_CLASSES].tolist()
    assert summary['labelled_fraction'] == pytest.approx(
        (stacked != 255).mean())
    assert summary['settings'] == rule_settings('bdl', quantile, cap)
    if quantile == 0.5:  # the cases the test data must cover
        assert counts[ABSENT] == 0
        assert {int(n) % 2 for n in counts if n} == {0, 1}
        conf = np.stack([p.max(0) for p in maps])
        assert np.median(conf[argmax == 0]) > 0.9 and thres[0] == 0.9
        assert thres[1] < 0.9 and 0 < (stacked == 255).mean() < 1
        assert len(np.unique(conf)) < conf.size / 2  # many ties


def test_bdl_thresholds_are_exact_float32_values(tmp_path):
    # values that share their high 16 bits: the low pass must resolve them
    base = np.float32(0.5).view(np.uint32)
    conf = (base + np.arange(40, dtype=np.uint32)).view(np.float32)
    rng = np.random.default_rng(1)
    conf = rng.permutation(conf).reshape(1, 5, 8)
    prob = np.concatenate([conf, 1 - conf - np.float32(0.01)])
    out = str(tmp_path)
    metric = PseudoLabelGenerator(out, quantile=0.5, cap=0.9)
    feed(metric, ['a/a_0'], [prob])
    metric.evaluate(1)
    # 40 values: index round(20.0) = 20 of the sorted ones
    expected = np.sort(conf.ravel())[20]
    summary = PseudoLabelDir(out).read_summary()
    assert summary['thresholds'][0] == float(expected)
    assert (read_label(out, 'a/a_0') == 0).sum() == 20
    # quantile 1 (out of range in the original's indexing): the maximum
    out = str(tmp_path / 'max')
    metric = PseudoLabelGenerator(out, quantile=1.0, cap=1.0)
    feed(metric, ['a/a_0'], [prob])
    metric.evaluate(1)
    summary = PseudoLabelDir(out).read_summary()
    assert summary['thresholds'][0] == float(conf.max())
    assert (read_label(out, 'a/a_0') == 0).sum() == 1


@pytest.mark.parametrize('rule', ['fixed', 'argmax'])
def test_fixed_and_argmax_rules(tmp_path, rule):
    maps = make_probs(seed=2)
    names = names_of(len(maps))
    out = str(tmp_path)
    metric = PseudoLabelGenerator(out, rule=rule, threshold=0.8)
    feed(metric, names[:4], maps[:4])
    # written during process already, no cache
    assert osp.isfile(PseudoLabelDir(out).label_path(names[0]))
    assert not osp.isdir(PseudoLabelDir(out).cache_dir())
    feed(metric, names[4:], maps[4:])
    metrics = metric.evaluate(len(names))
    total = 0
    for name, prob in zip(names, maps):
        expected = prob.argmax(0).astype(np.uint8)
        if rule == 'fixed':
            expected[prob.max(0) < 0.8] = 255
        np.testing.assert_array_equal(read_label(out, name), expected)
        total += (expected != 255).sum()
    summary = PseudoLabelDir(out).read_summary()
    assert summary['settings'] == rule_settings(rule, threshold=0.8)
    assert summary['num_images'] == len(names)
    assert metrics['pseudo_label/labelled_fraction'] == pytest.approx(
        total / (len(names) * 12 * 16))
    if rule == 'argmax':
        assert metrics['pseudo_label/labelled_fraction'] == 1.0


@pytest.mark.parametrize('rule', ['bdl', 'fixed'])
def test_resumed_run_writes_the_same_files(tmp_path, rule):
    maps = make_probs(seed=4)
    names = names_of(len(maps))
    full, part = str(tmp_path / 'full'), str(tmp_path / 'part')
    for out in (full, part):
        PseudoLabelDir(out).write_names(sorted(names))
    metric = PseudoLabelGenerator(full, rule=rule, keep_cache=True)
    feed(metric, names, maps)
    metric.evaluate(len(names))

    first = PseudoLabelGenerator(part, rule=rule, keep_cache=True)
    feed(first, names[:3], maps[:3])  # interrupted before computing
    second = PseudoLabelGenerator(part, rule=rule, keep_cache=True)
    with pytest.raises(FileNotFoundError, match='4 images'):
        second.compute_metrics([])
    feed(second, names[3:], maps[3:])
    second.evaluate(len(names) - 3)
    assert snapshot(part) == snapshot(full)


def test_num_classes_from_cache_when_nothing_runs(tmp_path):
    maps = make_probs(seed=5, num=3)
    names = names_of(3)
    out = str(tmp_path)
    PseudoLabelDir(out).write_names(names)
    feed(PseudoLabelGenerator(out), names, maps)
    fresh = PseudoLabelGenerator(out)  # a rerun with all images cached
    fresh.compute_metrics([])
    labels, thres = bdl_pseudo_labels(maps, NUM_CLASSES)
    # the absent class is the last but one, so C is still found as 5
    assert PseudoLabelDir(out).read_summary()['thresholds'] == thres.tolist()
    for name, expected in zip(names, labels):
        np.testing.assert_array_equal(read_label(out, name), expected)


def test_completion_and_stale_outputs(tmp_path):
    maps = make_probs(seed=6, num=4)
    names = names_of(4)
    out = str(tmp_path)
    settings = rule_settings('fixed', threshold=0.7)
    PseudoLabelDir(out).start_run(settings)
    PseudoLabelDir(out).write_names(names)
    assert not PseudoLabelDir(out).is_complete(settings, names)
    metric = PseudoLabelGenerator(out, rule='fixed', threshold=0.7)
    feed(metric, names, maps)
    # no summary yet
    assert not PseudoLabelDir(out).is_complete(settings, names)
    metric.evaluate(4)
    assert PseudoLabelDir(out).is_complete(settings, names)
    assert not PseudoLabelDir(out).is_complete(
        rule_settings('fixed', threshold=0.8),
                           names)
    assert not PseudoLabelDir(out).is_complete(settings, names[:3])
    with open(osp.join(out, 'pseudo_labels.json')) as f:
        assert json.load(f)['num_images'] == 4
    # another rule: the old labels and summary go
    PseudoLabelDir(out).start_run(rule_settings('argmax'))
    assert not osp.exists(PseudoLabelDir(out).label_dir())
    assert PseudoLabelDir(out).read_summary() is None
    # the same rule again after success: labels kept for reuse
    metric = PseudoLabelGenerator(out, rule='argmax')
    feed(metric, names, maps)
    metric.evaluate(4)
    PseudoLabelDir(out).start_run(rule_settings('argmax'))
    assert all(osp.isfile(PseudoLabelDir(out).label_path(n)) for n in names)
    # images no longer in the set lose their labels
    PseudoLabelDir(out).write_names(names[:2])
    PseudoLabelGenerator(out, rule='argmax', num_classes=5).compute_metrics(
        [])
    city0 = osp.join(PseudoLabelDir(out).label_dir(), 'city0')
    assert sorted(os.listdir(city0)) == [
        osp.basename(PseudoLabelDir(out).label_path(names[0]))]
    assert PseudoLabelDir(out).read_summary()['num_images'] == 2


def test_errors(tmp_path):
    out = str(tmp_path)
    with pytest.raises(ValueError, match='unknown pseudo-label rule'):
        PseudoLabelGenerator(out, rule='median')
    with pytest.raises(ValueError, match='quantile'):
        PseudoLabelGenerator(out, quantile=1.5)
    prob = make_probs(num=1)[0]
    metric = PseudoLabelGenerator(out, num_classes=4)
    with pytest.raises(ValueError, match=r'city0_000000_000019: 5 .*'
                       r'num_classes=4'):
        feed(metric, names_of(1), [prob])
    metric = PseudoLabelGenerator(out)
    feed(metric, names_of(1), [prob])
    with pytest.raises(ValueError, match='4 probability channels'):
        feed(metric, names_of(2)[1:], [prob[:4]])
    bad = prob.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match='finite'):
        feed(PseudoLabelGenerator(out), names_of(1), [bad])
    with pytest.raises(ValueError, match='does not end with'):
        PseudoLabelGenerator(out, img_suffix='.jpg').process(
            {}, [sample('a/b', prob)])


def host_label_and_confidence(probs, pred=None):
    """What process() computed before reducing on the device: the whole
    probability map copied to the host, then argmax and gather."""
    probs = probs.detach().float().cpu().numpy()
    label = probs.argmax(axis=0) if pred is None else \
        pred.cpu().numpy().reshape(probs.shape[1:])
    confidence = np.take_along_axis(
        probs, label[None].astype(np.intp), axis=0)[0]
    return label.astype(np.uint8), confidence.astype(np.float32) + \
        np.float32(0.0)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float16,
                                   torch.float64])
@pytest.mark.parametrize('with_pred', [False, True])
def test_device_reduction_is_bit_identical_to_the_host_one(dtype, with_pred):
    metric = PseudoLabelGenerator('unused', rule='argmax')
    for prob in make_probs(seed=4, num=3):
        probs = torch.from_numpy(prob).to(dtype)
        pred = probs.argmax(0, keepdim=True) if with_pred else None
        label, confidence = metric._label_and_confidence('x', probs, pred)
        ref_label, ref_conf = host_label_and_confidence(probs, pred)
        np.testing.assert_array_equal(label, ref_label)
        assert confidence.dtype == np.float32
        np.testing.assert_array_equal(confidence.view(np.uint32),
                                      ref_conf.view(np.uint32))


@pytest.mark.parametrize('rule', ['bdl', 'fixed'])
def test_only_label_and_confidence_are_copied_to_the_host(
        tmp_path, monkeypatch, rule):
    # In a GPU run .cpu() is the device-to-host copy: C probability maps
    # per image must not cross it, only (H, W) label and confidence maps.
    copied = []
    to_host = torch.Tensor.cpu

    def recording_cpu(self, *args, **kwargs):
        copied.append(tuple(self.shape))
        return to_host(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, 'cpu', recording_cpu)
    maps = make_probs(seed=5, num=2)
    metric = PseudoLabelGenerator(str(tmp_path), rule=rule)
    samples = []
    for name, prob in zip(names_of(2), maps):
        s = sample(name, prob)
        s['pred_sem_seg'] = dict(
            data=s['seg_logits']['data'].argmax(0, keepdim=True))
        samples.append(s)
    metric.process({}, samples)
    assert copied and set(copied) == {(12, 16)}
