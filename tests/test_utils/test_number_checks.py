"""Numbers and weights checked with the option's name; the config check
names the key of a wrong weight."""
import math

import pytest
from mmengine.config import Config

from mmseg_uda.utils.config_check import check_uda_config
from mmseg_uda.utils.number_checks import check_number, check_weight
from tests.conftest import REPO_ROOT

ADAPTSEG = 'configs/demo/deeplabv2_r18_tiny_adaptseg_demo.py'
MINENT = 'configs/advent/deeplabv2_r101_minent_gta2cs.py'


def test_check_number():
    assert check_number(1, 'x') == 1.0 and check_weight(0, 'w') == 0.0
    assert check_number(0.5, 'p', low=0, high=1) == 0.5
    for value in ('1', None, [1], True, {'a': 1}):
        with pytest.raises(TypeError, match=r'^w must be a number'):
            check_weight(value, 'w')
    for value in (-1e-9, math.inf, math.nan):
        with pytest.raises(ValueError, match=r'^w must be a number >= 0'):
            check_weight(value, 'w')
    with pytest.raises(ValueError, match=r'p must be a number >= 0 and '
                       r'<= 1, got 2'):
        check_number(2, 'p', low=0, high=1)


@pytest.mark.parametrize('config, key', [(ADAPTSEG, 'adv_weights'),
                                         (MINENT, 'ent_weights')])
def test_config_check_names_the_wrong_weight(config, key):
    cfg = Config.fromfile(f'{REPO_ROOT}/{config}')
    cfg.merge_from_dict({f'model.{key}.main': 'abc',
                         f'model.{key}.aux': -0.5})
    with pytest.raises(ValueError) as err:
        check_uda_config(cfg)
    msg = str(err.value)
    assert f"`model.{key}.main` must be a number (>= 0), got 'abc'" in msg
    assert f'`model.{key}.aux` must be a number >= 0, got -0.5' in msg


def test_config_check_refuses_a_weight_that_is_no_dict():
    cfg = Config.fromfile(f'{REPO_ROOT}/{ADAPTSEG}')
    cfg.model.adv_weights = [0.001]
    with pytest.raises(ValueError, match=r'`model.adv_weights`: must be a '
                       r'dict of level weights'):
        check_uda_config(cfg)
