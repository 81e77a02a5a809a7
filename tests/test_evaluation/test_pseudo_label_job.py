"""generate_pseudo_labels: a model run in-process, BDL's labels computed by
hand, state restored, completion and resume."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmseg_uda.evaluation.metrics.entropy_ranker import ranking_dataset_cfg
from mmseg_uda.evaluation.metrics.pseudo_label_io import (cache_dir,
                                                          label_path)
from mmseg_uda.evaluation.pseudo_label_job import generate_pseudo_labels
from tests.reference.bdl_ssl import bdl_pseudo_labels
from tests.reference.tiny_layouts import make_cityscapes
from tests.test_tools.test_rank_targets import main_logits, tiny_model

SIZE = (64, 32)  # (w, h) labelling size


@pytest.fixture(scope='module')
def setup(repo_root, tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp('pl_job'))
    cs = osp.join(tmp, 'cityscapes')
    make_cityscapes(cs, split='train', num=5, size=(64, 128), seed=7)
    cfg, model = tiny_model(repo_root, osp.join(tmp, 'model.pth'))
    cfg.train_dataloader.dataset.target.data_root = cs
    cfg.test_dataloader.dataset.pipeline[1].scale = SIZE
    return dict(tmp=tmp, cs=cs, cfg=cfg, model=model,
                dataset=ranking_dataset_cfg(cfg))


def probabilities_by_hand(model, cfg, img_path):
    with torch.no_grad():
        logits = main_logits(model, cfg, img_path, SIZE)
        prob = F.interpolate(logits.softmax(1), size=(SIZE[1], SIZE[0]),
                             mode='bilinear', align_corners=True)[0]
    return prob.numpy()


def test_bdl_labels_of_a_model(setup):
    model, out = setup['model'], osp.join(setup['tmp'], 'bdl')
    model.train()
    seg_cfg = model.segmentor.test_cfg
    summary = generate_pseudo_labels(model, setup['dataset'], out,
                                     dict(rule='bdl'), batch_size=1)
    assert model.training and model.segmentor.test_cfg is seg_cfg
    assert not seg_cfg.get('probs_to_ori_shape', False)
    model.eval()
    img_dir = osp.join(setup['cs'], 'leftImg8bit', 'train', 'tiny')
    files = sorted(os.listdir(img_dir))
    names = [f'tiny/{f[:-len("_leftImg8bit.png")]}' for f in files]
    probs = [probabilities_by_hand(model, setup['cfg'],
                                   osp.join(img_dir, f)) for f in files]
    labels, thres = bdl_pseudo_labels(probs, 19)
    assert summary['thresholds'] == thres.tolist()
    assert summary['num_images'] == 5
    for name, expected in zip(names, labels):
        got = cv2.imread(label_path(out, name), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(got, expected)
    assert 0 < summary['labelled_fraction'] < 1
    assert not osp.exists(cache_dir(out))


def test_complete_dir_returns_without_running(setup, monkeypatch):
    out = osp.join(setup['tmp'], 'argmax')
    first = generate_pseudo_labels(setup['model'], setup['dataset'], out,
                                   dict(rule='argmax'))
    assert first['labelled_fraction'] == 1.0

    def fail(*args, **kwargs):
        raise AssertionError('the network ran again')

    monkeypatch.setattr(setup['model'], 'test_step', fail)
    assert generate_pseudo_labels(setup['model'], setup['dataset'], out,
                                  dict(rule='argmax')) == first
    with pytest.raises(AssertionError, match='ran again'):  # new settings
        generate_pseudo_labels(setup['model'], setup['dataset'], out,
                               dict(rule='fixed', threshold=0.5))


def test_resume_runs_only_the_missing_images(setup, monkeypatch):
    out = osp.join(setup['tmp'], 'resume')
    full = generate_pseudo_labels(setup['model'], setup['dataset'], out,
                                  dict(rule='bdl', keep_cache=True),
                                  batch_size=2)
    cached = osp.join(cache_dir(out), 'images', 'tiny')
    for name in sorted(os.listdir(cached))[::2]:
        os.remove(osp.join(cached, name))
    os.remove(osp.join(out, 'pseudo_labels.json'))
    seen = []
    step = setup['model'].test_step

    def counting(batch):
        seen.extend(s.img_path for s in batch['data_samples'])
        return step(batch)

    monkeypatch.setattr(setup['model'], 'test_step', counting)
    again = generate_pseudo_labels(setup['model'], setup['dataset'], out,
                                   dict(rule='bdl', keep_cache=True),
                                   batch_size=2)
    assert len(seen) == 3
    assert again == full


def test_needs_a_uda_encoder_decoder(setup):
    with pytest.raises(TypeError, match='UDAEncoderDecoder'):
        generate_pseudo_labels(torch.nn.Conv2d(3, 3, 1), setup['dataset'],
                               osp.join(setup['tmp'], 'x'), dict(rule='bdl'))
