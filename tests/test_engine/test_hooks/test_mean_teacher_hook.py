"""MeanTeacherHook: exact copy at the start, DAFormer's EMA afterwards, and
a resumed run that equals an uninterrupted one."""
import copy
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmseg_uda.engine.hooks.mean_teacher_hook import MeanTeacherHook
from mmseg_uda.utils import mmengine_checkpoint_globals
from tests.reference.op_count import count_ops


class PairDataset(Dataset):
    """Fixed random regression pairs."""

    def __init__(self, num: int = 8) -> None:
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(num, 4, generator=gen)
        self.y = torch.randn(num, 2, generator=gen)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=self.x[index], target=self.y[index])


def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))


class TinyStudentTeacher(BaseModel):
    """A student trained by regression and a frozen teacher."""

    def __init__(self) -> None:
        super().__init__()
        self.student = _net()
        self.teacher = _net()
        for param in self.teacher.parameters():
            param.requires_grad_(False)

    def forward(self, inputs, target=None, mode='loss'):
        out = self.student(inputs)
        if mode == 'loss':
            return dict(loss=((out - target)**2).mean())
        return out


class Recorder(Hook):
    """Copies of the student and teacher states when the hooks run."""

    priority = 'LOW'  # after MeanTeacherHook

    def __init__(self) -> None:
        self.start = None
        self.steps = []

    @staticmethod
    def _states(runner):
        model = runner.model
        return (copy.deepcopy(model.student.state_dict()),
                copy.deepcopy(model.teacher.state_dict()))

    def before_train(self, runner) -> None:
        self.start = self._states(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self.steps.append(self._states(runner))


def _runner(work_dir, max_iters, hook, recorder, resume=False):
    torch.manual_seed(0)
    return Runner(
        model=TinyStudentTeacher(),
        work_dir=work_dir,
        train_dataloader=dict(
            dataset=PairDataset(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=2,
            num_workers=0),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=2,
                            by_epoch=False),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[hook, recorder],
        resume=resume,
        default_scope='mmseg',
        randomness=dict(seed=0),
        experiment_name=osp.basename(work_dir) + str(resume))


def _params(state):
    # parameters only: the BN running statistics are buffers
    return {k: v for k, v in state.items()
            if not k.startswith('1.running') and 'num_batches' not in k}


@pytest.mark.parametrize('momentum,interval,warm_up',
                         [(0.7, 1, True), (0.7, 2, False)])
def test_teacher_follows_the_ema_formula(tmp_path, momentum, interval,
                                         warm_up):
    recorder = Recorder()
    hook = MeanTeacherHook(momentum=momentum, interval=interval,
                           warm_up=warm_up)
    _runner(str(tmp_path), 6, hook, recorder).train()

    student0, teacher0 = recorder.start
    for key, value in student0.items():  # an exact copy, buffers included
        assert torch.equal(teacher0[key], value), key
    expected = _params(teacher0)
    for step, (student, teacher) in enumerate(recorder.steps, start=1):
        if step % interval == 0:
            alpha = min(1 - 1 / (step + 1), momentum) if warm_up \
                else momentum
            expected = {k: alpha * v + (1 - alpha) * student[k]
                        for k, v in expected.items()}
        for key, value in expected.items():
            torch.testing.assert_close(teacher[key], value, rtol=0,
                                       atol=1e-6, msg=key)
        # the student moved away from its start
        assert not torch.equal(student['0.weight'], student0['0.weight'])
    # buffers are not averaged (DAFormer): the teacher never ran forward
    _, teacher = recorder.steps[-1]
    assert torch.equal(teacher['1.running_mean'], student0['1.running_mean'])
    assert not torch.equal(recorder.steps[-1][0]['1.running_mean'],
                           student0['1.running_mean'])


def test_alpha_ramp_and_arguments():
    hook = MeanTeacherHook(momentum=0.999)
    assert hook.alpha(1) == 0.5
    assert hook.alpha(3) == 0.75
    assert hook.alpha(5000) == 0.999
    assert MeanTeacherHook(momentum=0.9, warm_up=False).alpha(1) == 0.9
    with pytest.raises(ValueError, match='momentum'):
        MeanTeacherHook(momentum=1.0)
    with pytest.raises(ValueError, match='interval'):
        MeanTeacherHook(interval=0)


def test_model_without_teacher_is_refused():
    model = TinyStudentTeacher()
    del model.teacher
    with pytest.raises(AttributeError, match='no `teacher`'):
        MeanTeacherHook().before_train(SimpleNamespace(model=model, iter=0))


def test_resume_equals_an_uninterrupted_run(tmp_path):
    straight, split = str(tmp_path / 'straight'), str(tmp_path / 'split')
    with mmengine_checkpoint_globals():
        _runner(straight, 4, MeanTeacherHook(momentum=0.7),
                Recorder()).train()
        _runner(split, 2, MeanTeacherHook(momentum=0.7), Recorder()).train()
        recorder = Recorder()
        hook = MeanTeacherHook(momentum=0.7)
        _runner(split, 4, hook, recorder, resume=True).train()

    load = lambda p: torch.load(p, map_location='cpu',  # noqa: E731
                                weights_only=False)
    at2 = load(osp.join(split, 'iter_2.pth'))
    assert at2['meta']['mean_teacher'] == dict(initialized=True)
    # the resumed run kept the checkpoint's teacher (no re-initialisation)
    student, teacher = recorder.start
    for key, value in teacher.items():
        torch.testing.assert_close(value, at2['state_dict'][f'teacher.{key}'],
                                   rtol=0, atol=0)
    assert not torch.equal(teacher['0.weight'], student['0.weight'])
    assert hook.initialized
    a, b = (load(osp.join(d, 'iter_4.pth'))['state_dict']
            for d in (straight, split))
    assert set(a) == set(b)
    assert any(k.startswith('teacher.') for k in a)
    for key, value in a.items():
        torch.testing.assert_close(b[key], value, rtol=0, atol=0, msg=key)


def _nets(num_layers):
    torch.manual_seed(num_layers)
    student = nn.Sequential(*[nn.Linear(3, 3) for _ in range(num_layers)])
    teacher = nn.Sequential(*[nn.Linear(3, 3) for _ in range(num_layers)])
    return student, teacher


def test_ema_update_is_bit_identical_to_the_per_parameter_formula():
    student, teacher = _nets(4)
    reference = copy.deepcopy(teacher)
    for alpha in (0.5, 0.999, 0.6667):
        MeanTeacherHook.ema_update(student, teacher, alpha)
        with torch.no_grad():  # the update before its _foreach version
            for t, s in zip(reference.parameters(), student.parameters()):
                t.mul_(alpha).add_(s.detach(), alpha=1.0 - alpha)
    for a, b in zip(teacher.parameters(), reference.parameters()):
        assert torch.equal(a, b)


def test_ema_update_launches_do_not_grow_with_the_parameter_count():
    def ops(num_layers):
        student, teacher = _nets(num_layers)
        return sum(count_ops(lambda: MeanTeacherHook.ema_update(
            student, teacher, 0.99)).values())

    assert ops(3) == ops(30)


def test_teacher_buffers_are_its_own_unlike_mmengine_ema():
    """The reason the hook does not build on mmengine's
    ExponentialMovingAverage (see its docstring): that one copies the
    source's buffers into the average on every update; DAFormer's teacher
    (lhoyer/MIC seg/mmseg/models/uda/dacs.py ``_update_ema``) averages
    parameters only and keeps its own BN statistics."""
    from mmengine.model import ExponentialMovingAverage
    torch.manual_seed(0)
    student = nn.Sequential(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2))
    student(torch.randn(4, 2, 3, 3))  # student's running stats move
    teacher = nn.Sequential(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2))
    own_mean = teacher[1].running_mean.clone()
    weight = teacher[0].weight.detach().clone()
    MeanTeacherHook.ema_update(student, teacher, 0.75)
    assert torch.equal(teacher[1].running_mean, own_mean)
    torch.testing.assert_close(
        teacher[0].weight, 0.75 * weight + 0.25 * student[0].weight)
    ema = ExponentialMovingAverage(teacher, momentum=0.25)
    ema.steps += 1  # past its first call, which copies the source
    ema.update_parameters(student)
    assert torch.equal(ema.module[1].running_mean, student[1].running_mean)
    assert not torch.equal(ema.module[1].running_mean, own_mean)
