"""How the shipped configs are laid out: a method base holds the method
only, schedules hold the optimisation, and a leaf method config assembles
the UDA model from its segmentor in one line."""
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
METHOD_BASES = sorted(
    glob.glob(osp.join(ROOT, 'configs/_base_/uda/*.py')))
SCHEDULES = sorted(
    glob.glob(osp.join(ROOT, 'configs/_base_/schedules/*.py')))
LEAVES = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs/**/*.py'), recursive=True)
    if '_base_' not in p)
# what only a schedule may set: optimisation, loops, hooks, DDP wrapping
SCHEDULE_KEYS = {
    'optim_wrapper', 'param_scheduler', 'train_cfg', 'val_cfg', 'test_cfg',
    'default_hooks', 'custom_hooks', 'model_wrapper_cfg'
}


def _rel(path):
    return osp.relpath(path, ROOT)


def test_layout_is_found():
    assert {osp.basename(p) for p in METHOD_BASES} >= {
        'adaptseg.py', 'advent.py', 'minent.py', 'dacs.py'
    }
    assert len(SCHEDULES) >= 5 and len(LEAVES) >= 19


@pytest.mark.parametrize('path', METHOD_BASES, ids=_rel)
def test_method_base_holds_the_method_only(path):
    cfg = Config.fromfile(path)
    assert set(cfg.keys()) == {'uda'}, _rel(path)
    assert cfg.uda.type.endswith('UDASegmentor')


@pytest.mark.parametrize('path', SCHEDULES, ids=_rel)
def test_schedule_holds_no_model(path):
    cfg = Config.fromfile(path)
    assert not {'model', 'uda', 'data_preprocessor'} & set(cfg.keys())
    assert {'optim_wrapper', 'param_scheduler', 'train_cfg'} <= set(
        cfg.keys())


@pytest.mark.parametrize('path', LEAVES, ids=_rel)
def test_leaf_model_comes_from_its_segmentor(path):
    cfg = Config.fromfile(path)
    if 'segmentor' not in cfg.model:
        pytest.skip('not a UDA model')
    # the UDA model takes the segmentor's data preprocessor
    assert 'data_preprocessor' in cfg.model.segmentor
    # mmengine's Runner hands a top-level data_preprocessor to a model
    # config without the key (setdefault): the explicit None stays
    model = dict(cfg.model)
    model.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    assert model['data_preprocessor'] is None, _rel(path)


@pytest.mark.parametrize('path', LEAVES + METHOD_BASES + SCHEDULES,
                         ids=_rel)
def test_every_base_is_listed_with_a_comment(path):
    with open(path) as f:
        text = f.read()
    match = re.search(r'^_base_ = \[(.*?)\]', text, re.S | re.M)
    if match is None:
        pytest.skip('no _base_ list')
    entries = [line.strip() for line in match.group(1).splitlines()]
    entries = [e for e in entries if e]
    if len(entries) == 1 and match.group(0).count('\n') == 0:
        # a one-line list: `_base_ = ['./x.py']  # why`
        line = text[match.start():text.index('\n', match.start())]
        assert '#' in line, _rel(path)
        return
    for entry in entries:
        assert re.match(r"'[^']+\.py',\s+# \S", entry), (_rel(path), entry)


def test_no_config_uses_retired_names():
    for path in glob.glob(osp.join(ROOT, 'configs/**/*.py'), recursive=True):
        with open(path) as f:
            text = f.read()
        for name in ('originals_listing', 'SelfTrainingUDASegmentor',
                     'SelfTrainingHook'):
            assert name not in text, (_rel(path), name)


def test_method_leaves_set_no_optimisation_of_their_own():
    """AdaptSegNet, ADVENT and DACS leaves take every optimisation setting
    from their schedule base; only the SYNTHIA runs' early stop differs."""
    for name in ('adaptseg/deeplabv2_r101_gta2cs',
                 'advent/deeplabv2_r101_advent_gta2cs',
                 'advent/deeplabv2_r101_minent_gta2cs',
                 'selftrain/deeplabv2_r101_dacs_gta2cs'):
        path = osp.join(ROOT, 'configs', name + '.py')
        with open(path) as f:
            text = f.read()
        assigned = set(re.findall(r'^(\w+) = ', text, re.M))
        assert not assigned & SCHEDULE_KEYS, (name, assigned & SCHEDULE_KEYS)
