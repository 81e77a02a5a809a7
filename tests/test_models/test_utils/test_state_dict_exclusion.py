"""exclude_from_state_dict: a submodule left out of saving and loading."""
import torch
import torch.nn as nn
from mmengine.runner.checkpoint import load_state_dict as mmengine_load

from mmseg_uda.models.utils import exclude_from_state_dict


class Parent(nn.Module):

    def __init__(self):
        super().__init__()
        self.kept = nn.Linear(2, 2)
        self.frozen = exclude_from_state_dict(
            nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)))
        self.frozen[1].register_buffer('scratch', torch.zeros(1),
                                       persistent=False)


def test_excluded_module_is_not_saved():
    parent = Parent()
    assert sorted(parent.state_dict()) == ['kept.bias', 'kept.weight']
    assert parent.frozen.state_dict() == {}
    outer = nn.ModuleDict(dict(inner=Parent()))  # nested deeper
    assert sorted(outer.state_dict()) == ['inner.kept.bias',
                                          'inner.kept.weight']


def test_loading_keeps_its_values_and_reports_nothing_missing():
    torch.manual_seed(0)
    source, target = Parent(), Parent()
    frozen = {n: p.detach().clone()
              for n, p in target.frozen.named_parameters()}
    result = target.load_state_dict(source.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(target.kept.weight, source.kept.weight)
    # entries for the excluded module (an old checkpoint) do not load and
    # are not reported either
    extra = dict(source.state_dict(), **{
        'frozen.0.weight': torch.ones(3, 2),
        'frozen.1.running_mean': torch.ones(3),
        'frozen.9.unknown': torch.ones(1)})
    result = target.load_state_dict(extra, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    mmengine_load(target, extra, strict=True)  # mmengine's own loader
    for name, param in target.frozen.named_parameters():
        assert torch.equal(param, frozen[name]), name
    assert torch.equal(target.frozen[1].running_mean, torch.zeros(3))
