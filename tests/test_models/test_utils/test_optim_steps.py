"""One training-step contract: every model takes its wrappers through
``training_wrappers`` (gradient accumulation refused, naming the wrapper)
and steps them with ``step_wrappers``."""
import pytest
import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper, OptimWrapperDict

from mmseg_uda.models.utils import (refuse_accumulation, step_wrappers,
                                    training_wrappers)
from ..test_translators.helpers import build_translator
from ..test_uda import test_adversarial_uda_segmentor as adversarial
from ..test_uda import test_advent_uda_segmentor as advent
from ..test_uda import test_dacs_uda_segmentor as dacs


def _wrapper(module: nn.Module, counts: int = 1) -> OptimWrapper:
    return OptimWrapper(torch.optim.SGD(module.parameters(), lr=0.1),
                        accumulative_counts=counts)


def _params(module: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def test_accumulation_is_refused_naming_the_wrapper():
    layer = nn.Linear(2, 2)
    refuse_accumulation(_wrapper(layer), 'segmentor', 'M')  # 1 is fine
    with pytest.raises(ValueError, match=r'M: the optimizer wrapper '
                       r'`discriminators` has accumulative_counts=4'):
        refuse_accumulation(_wrapper(layer, 4), 'discriminators', 'M')


def test_training_wrappers_checks_names_and_plain_wrappers():
    layer = nn.Linear(2, 2)
    seg, disc = _wrapper(layer), _wrapper(layer)
    both = OptimWrapperDict(segmentor=seg, discriminators=disc)
    got = training_wrappers(both, ('segmentor', 'discriminators'), 'M')
    assert got == dict(segmentor=seg, discriminators=disc)
    assert training_wrappers(seg, ('segmentor', ), 'M',
                             allow_plain=True) == dict(segmentor=seg)
    with pytest.raises(TypeError, match=r"needs an OptimWrapperDict with "
                       r"the wrappers \['segmentor'\]"):
        training_wrappers(seg, ('segmentor', ), 'M')
    with pytest.raises(TypeError, match='generators=dict'):
        training_wrappers(both, ('generators', ), 'M')


def test_step_wrappers_steps_then_zeroes_or_only_zeroes():
    layer = nn.Linear(2, 1)
    wrapper = _wrapper(layer)
    before = _params(layer)
    layer(torch.ones(1, 2)).sum().backward()
    step_wrappers([wrapper], step=False)
    assert all(p.grad is None or not p.grad.any() for p in layer.parameters())
    assert all(torch.equal(v, before[k]) for k, v in _params(layer).items())
    layer(torch.ones(1, 2)).sum().backward()
    step_wrappers([wrapper])
    # SGD lr 0.1 on d(sum(w x + b))/dw = x = 1, d/db = 1
    for key, value in _params(layer).items():
        assert torch.allclose(value, before[key] - 0.1), key
    assert all(p.grad is None or not p.grad.any() for p in layer.parameters())


def _uda_cases():
    def adv():
        model = adversarial._model('single')
        return model, adversarial._batch(0), ('segmentor', 'discriminators')

    def minent():
        model = advent._model('minent')
        return model, None, ('segmentor', )

    def self_training():
        model = dacs._model()
        batch = dict(source=dacs._batch(0, True), target=dacs._batch(1, False))
        return model, batch, ('segmentor', )

    def translator():
        return build_translator(), None, ('generators', 'discriminators')

    return dict(adversarial=adv, minent=minent, dacs=self_training,
                translator=translator)


@pytest.mark.parametrize('case', sorted(_uda_cases()))
def test_every_model_refuses_accumulation_before_any_work(case):
    model, batch, names = _uda_cases()[case]()
    wrappers = OptimWrapperDict(**{
        name: _wrapper(getattr(model, name), 2 if i == len(names) - 1
                       else 1) for i, name in enumerate(names)})
    before = _params(model)
    with pytest.raises(ValueError,
                       match=f'`{names[-1]}` has accumulative_counts=2'):
        model.train_step(batch, wrappers)
    assert all(torch.equal(v, before[k]) for k, v in _params(model).items())
    assert all(p.grad is None for p in model.parameters())
