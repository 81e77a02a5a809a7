"""Every shipped config builds and trains as it did before the refactor.

The records in ``tests/data/behaviour`` were written by
``behaviour_record.py`` before the structure refactor. Keys renamed since are
mapped explicitly in ``RENAMED_KEYS`` (old name -> new name).
"""
import math

import pytest

from tests.test_configs.behaviour_record import (load, record,
                                                 shipped_configs)

# state-dict / log key renames made by the refactor: {old: new}
RENAMED_KEYS: dict = {}


def _renamed(mapping: dict) -> dict:
    return {RENAMED_KEYS.get(k, k): v for k, v in mapping.items()}


def _assert_digests(got: dict, want: dict, what: str) -> None:
    assert set(got) == set(want), what
    for key, (w_sum, w_sq, w_probe) in want.items():
        g_sum, g_sq, g_probe = got[key]
        # sums may cancel: their tolerance scales with the tensor's norm
        scale = 1e-4 * math.sqrt(w_sq) + 1e-12
        assert g_sq == pytest.approx(w_sq, rel=1e-4, abs=1e-12), (what, key)
        assert abs(g_sum - w_sum) <= scale + 1e-5 * abs(w_sum), (what, key)
        assert abs(g_probe - w_probe) <= scale + 1e-5 * abs(w_probe), \
            (what, key)


@pytest.mark.slow
@pytest.mark.parametrize('config', shipped_configs())
def test_config_builds_and_steps_as_recorded(config):
    want = load(config)
    got = record(config)
    assert got['parameters'] == _renamed(want['parameters'])
    assert got['buffers'] == _renamed(want['buffers'])
    _assert_digests(got['initial'], _renamed(want['initial']), 'initial')
    if 'predictions' in want:
        for g, w in zip(got['predictions'], want['predictions']):
            assert g == pytest.approx(w, rel=1e-5)
        return
    assert set(got['losses']) == set(_renamed(want['losses']))
    for key, value in _renamed(want['losses']).items():
        assert got['losses'][key] == pytest.approx(value, rel=1e-5,
                                                   abs=1e-9), key
    _assert_digests(got['update'], _renamed(want['update']), 'update')


def test_every_shipped_config_has_a_record():
    for config in shipped_configs():
        assert load(config)['config'] == config
