"""Tests of :func:`mmseg_uda.utils.config_check.check_uda_config`."""
import argparse
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmseg_uda.utils.config_check import (accepted_keys, check_uda_config,
                                          dict_option_keys)
from mmseg_uda.utils.tool_config import load_tool_config
from tests.conftest import REPO_ROOT
from tests.tool_runs import run_python

pytestmark = pytest.mark.reliability

ADAPTSEG = 'configs/adaptseg/deeplabv2_r101_gta2cs.py'
SSL = 'configs/bdl/deeplabv2_r101_ssl_gta2cs.py'
DACS = 'configs/selftrain/deeplabv2_r101_dacs_gta2cs.py'
SHIPPED = sorted(
    osp.relpath(path, REPO_ROOT)
    for path in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                          recursive=True)
    if '_base_' not in path)


def _cfg(path, **options):
    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    cfg.merge_from_dict(options)
    return cfg


def _refused(cfg):
    with pytest.raises(ValueError) as err:
        check_uda_config(cfg)
    return str(err.value)


def _valid_list(cls):
    return str(accepted_keys(cls))


@pytest.mark.parametrize('path', SHIPPED)
def test_shipped_configs_pass(path):
    check_uda_config(_cfg(path))


def test_shipped_configs_found():
    assert ADAPTSEG in SHIPPED and SSL in SHIPPED and len(SHIPPED) >= 15


def test_uda_model_key_typo():
    from mmseg_uda.models.uda.adversarial_uda_segmentor import \
        AdversarialUDASegmentor
    msg = _refused(_cfg(ADAPTSEG, **{'model.adv_weigths': dict(main=0.1)}))
    assert "`model` (AdversarialUDASegmentor): unknown key(s) " \
        "['adv_weigths']" in msg
    assert "did you mean 'adv_weights'" in msg
    valid = accepted_keys(AdversarialUDASegmentor)
    assert f'valid keys: {valid}' in msg
    assert valid == sorted(valid)
    assert {'adv_weights', 'discriminator', 'segmentor', 'gan_loss',
            'ssl_weights', 'data_preprocessor', 'init_cfg'} <= set(valid)


def test_discriminator_key_typo():
    msg = _refused(_cfg(ADAPTSEG, **{'model.discriminator.num_conv': 3}))
    assert ('`model.discriminator` (FCDiscriminator): unknown key(s) '
            "['num_conv']") in msg
    assert ("valid keys: ['base_channels', 'in_channels', 'init_cfg', "
            "'negative_slope', 'num_convs']") in msg


def test_hook_key_typo():
    cfg = _cfg(DACS)
    cfg.custom_hooks[0]['momentun'] = 0.99
    msg = _refused(cfg)
    assert "`custom_hooks[0]` (MeanTeacherHook): unknown key(s) " \
        "['momentun']" in msg
    assert "'momentum'" in msg


def test_pseudo_label_rule_typo():
    cfg = _cfg(SSL)
    cfg.custom_hooks[0]['rule'] = dict(rule='bdl', quantil=0.5, cap=0.9)
    msg = _refused(cfg)
    assert "`custom_hooks[0].rule` (option of PseudoLabelRoundsHook): unknown " \
        "key(s) ['quantil']" in msg
    assert "valid keys: ['cap', 'collect_device', 'keep_cache', " \
        "'num_classes', 'prefix', 'quantile', 'rule', 'threshold']" in msg


def test_level_weights_typo():
    cfg = _cfg(ADAPTSEG)
    cfg.model.adv_weights = dict(mian=0.1)
    msg = _refused(cfg)
    assert "`model.adv_weights` (option of AdversarialUDASegmentor): " \
        "unknown key(s) ['mian'] (did you mean 'main' for 'mian'?); " \
        "valid keys: ['aux', 'main']" in msg


def test_minent_and_ssl_level_weights_typo():
    msg = _refused(_cfg('configs/advent/deeplabv2_r101_minent_gta2cs.py',
                        **{'model.ent_weights': dict(mainn=0.001)}))
    assert "`model.ent_weights` (option of MinEntUDASegmentor): unknown " \
        "key(s) ['mainn']" in msg
    msg = _refused(_cfg(SSL, **{'model.ssl_weights': dict(aux=1.0, mian=1)}))
    assert "`model.ssl_weights` (option of AdversarialUDASegmentor): " \
        "unknown key(s) ['mian']" in msg


def test_option_keys_are_read_from_the_class():
    class Checked:
        OPTION_KEYS = dict(weights=('main', 'aux'), rule=['b', 'a'])

    class Inheriting(Checked):
        pass

    class Plain:
        pass

    expected = dict(weights=['aux', 'main'], rule=['a', 'b'])
    assert dict_option_keys(Checked) == expected
    assert dict_option_keys(Inheriting) == expected
    assert dict_option_keys(Plain) == {}


def test_dataset_option_typo_follows_our_mixin_to_mmseg():
    from mmseg_uda.datasets.gta import GTAVDataset
    msg = _refused(_cfg(ADAPTSEG, **{
        'train_dataloader.dataset.source.bad_sample': 'skip'}))
    assert ("`train_dataloader.dataset.source` (GTAVDataset): unknown "
            "key(s) ['bad_sample']") in msg
    valid = accepted_keys(GTAVDataset)
    # GTAVDataset -> CheckedDatasetMixin (**kwargs) -> mmseg BaseSegDataset
    assert {'img_suffix', 'bad_samples', 'max_bad_samples', 'ann_file',
            'test_mode', 'max_refetch'} <= set(valid)
    assert f'valid keys: {valid}' in msg
    msg = _refused(_cfg(ADAPTSEG, **{
        'train_dataloader.dataset.bad_sampels': 'skip'}))
    assert '`train_dataloader.dataset` (SourceTargetDataset)' in msg
    assert ("['bad_samples', 'lazy_init', 'max_bad_samples', "
            "'max_refetch', 'rare_class_sampling', 'source', 'target']") \
        in msg


def test_transform_key_typo():
    cfg = _cfg(SSL)
    cfg.train_dataloader.dataset.target.pipeline[1]['label_dirr'] = 'x'
    msg = _refused(cfg)
    assert ('`train_dataloader.dataset.target.pipeline[1]` '
            "(LoadPseudoLabels): unknown key(s) ['label_dirr']") in msg


def test_all_problems_are_listed():
    cfg = _cfg(ADAPTSEG, **{'model.adv_weigths': 1,
                            'model.segmentor.backbone.dept': 18})
    msg = _refused(cfg)
    assert "['adv_weigths']" in msg
    assert "`model.segmentor.backbone` (DeepLabV2ResNet): unknown key(s) " \
        "['dept']" in msg


def test_open_kwargs_and_foreign_classes_are_not_refused():
    from mmseg_uda.evaluation.metrics.subset_iou_metric import \
        SubsetIoUMetric
    from mmseg_uda.models.backbones.deeplabv2_resnet import DeepLabV2ResNet

    # SubsetIoUMetric's **kwargs reach IoUMetric, which takes **kwargs
    assert accepted_keys(SubsetIoUMetric) is None
    # DeepLabV2ResNet's **kwargs reach mmseg's ResNet (closed)
    assert {'ceil_mode', 'stem_channels', 'with_cp'} <= set(
        accepted_keys(DeepLabV2ResNet))
    cfg = _cfg('configs/adaptseg/deeplabv2_r101_synthia2cs.py')
    cfg.val_evaluator['anything'] = 1  # SubsetIoUMetric: open
    cfg.train_dataloader.dataset.target['not_ours'] = 1  # mmseg's class
    check_uda_config(cfg)


def _args(config, options):
    return argparse.Namespace(config=config, cfg_options=options,
                              launcher='none', work_dir=None, local_rank=0)


def test_load_tool_config_refuses_before_building():
    with pytest.raises(ValueError, match='adv_weigths'):
        load_tool_config(_args(osp.join(REPO_ROOT, ADAPTSEG),
                               {'model.adv_weigths': 0.1}))
    cfg = load_tool_config(_args(osp.join(REPO_ROOT, ADAPTSEG),
                                 {'model.adv_weights.main': 0.1}))
    assert cfg.model.adv_weights.main == 0.1


@pytest.mark.slow
def test_train_tool_exits_with_the_message(tmp_path):
    work_dir = str(tmp_path / 'work')
    proc = run_python(['tools/train.py', ADAPTSEG, '--work-dir', work_dir,
                       '--cfg-options', 'model.adv_weigths=0.1'],
                      repo_root=REPO_ROOT, timeout=300)
    assert proc.returncode != 0
    assert "unknown key(s) ['adv_weigths']" in proc.stderr
    assert "'adv_weights'" in proc.stderr
    assert not osp.exists(work_dir)  # nothing was built
