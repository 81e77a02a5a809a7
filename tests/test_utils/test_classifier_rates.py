"""keep_first_rates: cut a main classifier to its first convs."""
import pytest
import torch

from mmseg_uda.utils import keep_first_rates


def _state():
    state = {'backbone.conv1.weight': torch.ones(1)}
    for head in ('decode_head', 'auxiliary_head'):
        for i in range(4):
            state[f'{head}.convs.{i}.weight'] = torch.full((1, ), float(i))
            state[f'{head}.convs.{i}.bias'] = torch.zeros(1)
    return state


def test_keeps_the_first_convs_of_the_main_head_only():
    out = keep_first_rates(_state(), 2)
    assert sorted(k for k in out if k.startswith('decode_head')) == [
        'decode_head.convs.0.bias', 'decode_head.convs.0.weight',
        'decode_head.convs.1.bias', 'decode_head.convs.1.weight']
    assert out['decode_head.convs.1.weight'].item() == 1.0
    # other keys, the auxiliary head included, are kept as they are
    assert sum(k.startswith('auxiliary_head') for k in out) == 8
    assert torch.equal(out['backbone.conv1.weight'], torch.ones(1))
    assert len(keep_first_rates(_state(), 2, head='auxiliary_head')) == 13


def test_bad_counts_are_refused():
    with pytest.raises(ValueError, match='num_rates=5 but decode_head'):
        keep_first_rates(_state(), 5)
    with pytest.raises(ValueError, match='>= 1'):
        keep_first_rates(_state(), 0)
