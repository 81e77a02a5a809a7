"""Model selection as the originals: each method validates (and keeps a
checkpoint) at the interval its original saves and evaluates snapshots,
and keeps the best by mIoU (tests/reference/original_recipes.py)."""
import pytest

from tests.reference.models import load_config
from tests.reference.original_recipes import (ADAPTSEGNET_SNAPSHOT_EVERY,
                                              ADVENT_SNAPSHOT_MAXITER,
                                              ADVENT_SNAPSHOT_STEP,
                                              BDL_SAVE_PRED_EVERY,
                                              BDL_SSL_STEPS_STOP)

INTERVALS = {
    # wasidennis/AdaptSegNet train_gta2cityscapes_multi.py SAVE_PRED_EVERY
    'configs/adaptseg/deeplabv2_r101_gta2cs.py': ADAPTSEGNET_SNAPSHOT_EVERY,
    'configs/adaptseg/deeplabv2_r101_single_gta2cs.py':
    ADAPTSEGNET_SNAPSHOT_EVERY,
    'configs/adaptseg/deeplabv2_r101_lsgan_gta2cs.py':
    ADAPTSEGNET_SNAPSHOT_EVERY,
    'configs/adaptseg/deeplabv2_r101_synthia2cs.py':
    ADAPTSEGNET_SNAPSHOT_EVERY,
    # valeoai/ADVENT advent/domain_adaptation/config.py TEST.SNAPSHOT_STEP
    'configs/advent/deeplabv2_r101_advent_gta2cs.py': ADVENT_SNAPSHOT_STEP,
    'configs/advent/deeplabv2_r101_minent_gta2cs.py': ADVENT_SNAPSHOT_STEP,
    'configs/advent/deeplabv2_r101_advent_synthia2cs.py':
    ADVENT_SNAPSHOT_STEP,
    'configs/advent/deeplabv2_r101_minent_synthia2cs.py':
    ADVENT_SNAPSHOT_STEP,
    # feipan664/IntraDA: ADVENT's code, intrada/intrada.yml TEST.MODE best
    'configs/intrada/deeplabv2_r101_intrada_gta2cs.py': ADVENT_SNAPSHOT_STEP,
    # liyunsheng13/BDL options/train_options.py --save-pred-every
    'configs/bdl/deeplabv2_r101_ssl_gta2cs.py': BDL_SAVE_PRED_EVERY,
}


@pytest.mark.parametrize('config', sorted(INTERVALS))
def test_validation_and_checkpoint_interval(config):
    cfg = load_config(config)
    interval = INTERVALS[config]
    assert cfg.train_cfg.val_interval == interval
    checkpoint = cfg.default_hooks.checkpoint
    assert checkpoint.interval == interval
    # the originals report the best snapshot
    assert checkpoint.save_best == 'mIoU' and checkpoint.rule == 'greater'
    assert cfg.train_cfg.max_iters % interval == 0


def test_advent_evaluates_every_snapshot_up_to_its_last():
    cfg = load_config('configs/advent/deeplabv2_r101_advent_gta2cs.py')
    assert cfg.train_cfg.max_iters == ADVENT_SNAPSHOT_MAXITER


def test_bdl_ssl_run_length():
    cfg = load_config('configs/bdl/deeplabv2_r101_ssl_gta2cs.py')
    assert cfg.train_cfg.max_iters == BDL_SSL_STEPS_STOP
