"""checkpoint_coverage: what counts as the weights a checkpoint must fill."""
import torch
import torch.nn as nn

from mmseg_uda.utils.checkpoint_coverage import checkpoint_coverage


class WithRandomState(nn.Module):
    """A layer and an extra state that is no tensor (as an image pool's)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 1)

    def get_extra_state(self) -> dict:
        return dict(rng=[1, 2, 3])

    def set_extra_state(self, state: dict) -> None:
        self.rng = state['rng']


def test_extra_states_that_are_no_tensors_are_not_counted_as_weights():
    model = WithRandomState()
    coverage = checkpoint_coverage(WithRandomState(), dict(state_dict=model.state_dict()))
    assert coverage.total_tensors == 2  # conv.weight and conv.bias, not _extra_state
    assert coverage.total_values == 3 * 2 + 3
    assert coverage.fraction == 1.0
    partial = {k: v for k, v in model.state_dict().items() if k != 'conv.weight'}
    assert checkpoint_coverage(WithRandomState(), partial).loaded_values == 3
    assert isinstance(model.state_dict()['_extra_state'], dict)
    assert torch.is_tensor(model.state_dict()['conv.weight'])
