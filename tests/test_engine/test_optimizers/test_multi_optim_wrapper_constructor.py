"""MultiOptimWrapperConstructor: one optimizer wrapper per submodule."""
import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.optim import AmpOptimWrapper, OptimWrapper, OptimWrapperDict
from mmengine.optim import build_optim_wrapper as mmengine_build
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from torch.utils.data import Dataset

import mmseg.engine  # noqa: F401  (registers mmseg's constructors)
from mmseg_uda.engine.optimizers.multi_optim_wrapper_constructor import \
    MultiOptimWrapperConstructor
from mmseg_uda.engine.optimizers.torch04_sgd import Torch04SGD

LISTING = 'OriginalsListingOptimWrapperConstructor'

SEG_LR, DISC_LR, MAX_ITERS = 0.01, 1e-3, 4


class ToySegmentor(nn.Module):

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.backbone.layer1 = nn.Sequential(nn.Conv2d(4, 4, 1))
        self.decode_head = nn.Conv2d(4, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.backbone.layer1(self.backbone.conv1(x).relu())
        return self.decode_head(x.relu())


class ToyUDA(BaseModel):
    """Trains its segmentor and discriminator with their own wrappers."""

    def __init__(self) -> None:
        super().__init__()
        self.segmentor = ToySegmentor()
        self.discriminators = nn.Conv2d(2, 1, 1)
        self.lr_log = []

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.segmentor(inputs)

    def train_step(self, data, optim_wrapper):
        self.lr_log.append(
            {k: [g['lr'] for g in w.optimizer.param_groups]
             for k, w in optim_wrapper.items()})
        x = self.data_preprocessor(data, True)['inputs']
        seg_wrapper = optim_wrapper['segmentor']
        disc_wrapper = optim_wrapper['discriminators']
        with seg_wrapper.optim_context(self.segmentor):
            pred = self.segmentor(x)
            loss_seg = pred.float().pow(2).mean()
        seg_wrapper.update_params(loss_seg)
        with disc_wrapper.optim_context(self.discriminators):
            loss_disc = self.discriminators(pred.detach()).float().mean()
        disc_wrapper.update_params(loss_disc)
        return dict(loss_seg=loss_seg.detach(), loss_disc=loss_disc.detach())


class ToyData(Dataset):

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> dict:
        return dict(inputs=torch.randn(3, 6, 6))


class Wrapped(nn.Module):
    """Stands for a DDP-style wrapper exposing ``.module``."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module


def build_optim_wrapper(model: nn.Module, cfg: dict):
    """mmengine's builder, in mmseg's scope as the runner of a config."""
    with DefaultScope.overwrite_default_scope('mmseg'):
        return mmengine_build(model, cfg)


def optim_cfg(wrapper_type: str = 'OptimWrapper', **seg_extra) -> dict:
    return dict(
        constructor='MultiOptimWrapperConstructor',
        segmentor=dict(
            type=wrapper_type,
            optimizer=dict(
                type='SGD', lr=SEG_LR, momentum=0.9, weight_decay=5e-4),
            paramwise_cfg=dict(
                custom_keys={'decode_head': dict(lr_mult=10.)}),
            **seg_extra),
        discriminators=dict(
            type=wrapper_type,
            optimizer=dict(type='Adam', lr=DISC_LR, betas=(0.9, 0.99))))


def test_builds_one_wrapper_per_submodule():
    model = ToyUDA()
    wrappers = build_optim_wrapper(model, optim_cfg())
    assert isinstance(wrappers, OptimWrapperDict)
    assert list(wrappers.keys()) == ['segmentor', 'discriminators']
    seg, disc = wrappers['segmentor'], wrappers['discriminators']
    assert type(seg.optimizer) is torch.optim.SGD
    assert isinstance(disc.optimizer, torch.optim.Adam)
    assert disc.optimizer.defaults['betas'] == (0.9, 0.99)
    seg_params = {p for g in seg.optimizer.param_groups for p in g['params']}
    disc_params = {p for g in disc.optimizer.param_groups for p in g['params']}
    assert seg_params == set(model.segmentor.parameters())
    assert disc_params == set(model.discriminators.parameters())
    head = set(model.segmentor.decode_head.parameters())
    for group in seg.optimizer.param_groups:
        lr = 10 * SEG_LR if group['params'][0] in head else SEG_LR
        assert group['lr'] == pytest.approx(lr)


def test_unwraps_the_model_and_a_wrapped_submodule():
    model = ToyUDA()
    model.segmentor = Wrapped(ToySegmentor())
    model.discriminators = Wrapped(nn.Conv2d(2, 1, 1))
    wrappers = MultiOptimWrapperConstructor(
        {k: v for k, v in optim_cfg(constructor=LISTING).items()
         if k != 'constructor'})(Wrapped(model))
    assert isinstance(wrappers['segmentor'].optimizer, Torch04SGD)
    disc_params = {p for g in wrappers['discriminators'].optimizer.param_groups
                   for p in g['params']}
    assert disc_params == set(model.discriminators.parameters())
    # conv1 is listed once, layer1.0 twice (layer1, layer1.0).
    names = {p: n for n, p in model.segmentor.module.named_parameters()}
    got = {names[g['params'][0]]: g['multiplicities'][0]
           for g in wrappers['segmentor'].optimizer.param_groups}
    assert got == {
        'backbone.conv1.weight': 1,
        'backbone.conv1.bias': 1,
        'backbone.layer1.0.weight': 2,
        'backbone.layer1.0.bias': 2,
        'decode_head.weight': 1,
        'decode_head.bias': 1
    }


def test_per_key_constructor():
    cfg = optim_cfg()
    cfg['discriminators']['constructor'] = (
        'ForceDefaultOptimWrapperConstructor')
    wrappers = build_optim_wrapper(ToyUDA(), cfg)
    assert isinstance(wrappers['discriminators'].optimizer, torch.optim.Adam)
    cfg['discriminators']['constructor'] = 'NoSuchConstructor'
    with pytest.raises(KeyError, match='NoSuchConstructor'):
        build_optim_wrapper(ToyUDA(), cfg)


def test_errors():
    cfg = optim_cfg()
    cfg['generator'] = cfg.pop('discriminators')
    with pytest.raises(KeyError, match='generator') as err:
        build_optim_wrapper(ToyUDA(), cfg)
    assert 'segmentor' in str(err.value)
    assert 'discriminators' in str(err.value)
    with pytest.raises(ValueError, match='empty'):
        build_optim_wrapper(
            ToyUDA(), dict(constructor='MultiOptimWrapperConstructor'))
    with pytest.raises(ValueError, match='inside each sub-config'):
        build_optim_wrapper(ToyUDA(), dict(optim_cfg(), paramwise_cfg={}))
    with pytest.raises(TypeError, match='optimizer'):
        build_optim_wrapper(ToyUDA(), dict(optim_cfg(), extra=dict(lr=1)))
    cfg = optim_cfg()
    cfg['discriminators']['constructor'] = LISTING
    with pytest.raises(ValueError, match="optimizer must be SGD, got 'Adam'"):
        build_optim_wrapper(ToyUDA(), cfg)
    cfg = optim_cfg()
    cfg['discriminators']['optimizer'] = dict(type='SGD', lr=0.1)
    cfg['discriminators']['constructor'] = LISTING
    with pytest.raises(ValueError, match='Conv2d has no `backbone`'):
        build_optim_wrapper(ToyUDA(), cfg)
    # the former switch is refused, naming its replacement
    cfg = optim_cfg(originals_listing=True)
    with pytest.raises(ValueError, match=r'`segmentor.originals_listing` is '
                       r"gone: write `segmentor=dict\(constructor="
                       r"'OriginalsListingOptimWrapperConstructor'"):
        build_optim_wrapper(ToyUDA(), cfg)


def poly(base: float, t: int, power: float, eta_min: float = 0.) -> float:
    """mmengine's PolyLR with ``end=MAX_ITERS``: it decays over
    ``end - begin - 1`` steps, reaching ``eta_min`` at the last iteration."""
    total = MAX_ITERS - 1
    return eta_min + (base - eta_min) * (1 - t / total)**power


@pytest.mark.parametrize('wrapper_type', ['OptimWrapper', 'AmpOptimWrapper'])
def test_runner_with_per_optimizer_schedules(tmp_path, monkeypatch,
                                             wrapper_type):
    if wrapper_type == 'AmpOptimWrapper' and not torch.cuda.is_available():
        # AmpOptimWrapper refuses to be built without an accelerator; on CPU
        # its GradScaler disables itself and autocast runs in bfloat16.
        import mmengine.optim.optimizer.amp_optimizer_wrapper as amp
        monkeypatch.setattr(amp, 'is_cuda_available', lambda: True)
    model = ToyUDA()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    runner = Runner(
        model=model,
        work_dir=str(tmp_path),
        experiment_name=f'multi_optim_{wrapper_type}_{tmp_path.name}',
        train_dataloader=dict(
            dataset=ToyData(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=2,
            num_workers=0),
        train_cfg=dict(by_epoch=False, max_iters=MAX_ITERS),
        optim_wrapper=optim_cfg(wrapper_type, constructor=LISTING),
        param_scheduler=dict(
            segmentor=[dict(type='PolyLR', power=0.9, by_epoch=False)],
            discriminators=[
                dict(type='PolyLR', power=2.0, eta_min=1e-5, by_epoch=False)
            ]),
        default_hooks=dict(
            checkpoint=dict(
                type='CheckpointHook', interval=MAX_ITERS, by_epoch=False)),
        default_scope='mmseg')
    runner.train()

    wrappers = runner.optim_wrapper
    for key in ('segmentor', 'discriminators'):
        assert type(wrappers[key]) is {
            'OptimWrapper': OptimWrapper,
            'AmpOptimWrapper': AmpOptimWrapper
        }[wrapper_type]
    assert isinstance(wrappers['segmentor'].optimizer, Torch04SGD)
    assert len(model.lr_log) == MAX_ITERS
    head = set(model.segmentor.decode_head.parameters())
    mults = [10. if g['params'][0] in head else 1.
             for g in wrappers['segmentor'].optimizer.param_groups]
    assert sorted(set(mults)) == [1., 10.]
    for t, lrs in enumerate(model.lr_log):
        expected_seg = [poly(m * SEG_LR, t, 0.9) for m in mults]
        assert lrs['segmentor'] == pytest.approx(expected_seg)
        assert lrs['discriminators'] == pytest.approx(
            [poly(DISC_LR, t, 2.0, 1e-5)])
    for name, param in model.named_parameters():
        assert not torch.equal(param.detach().cpu(), before[name]), name

    ckpt = torch.load(
        tmp_path / f'iter_{MAX_ITERS}.pth', map_location='cpu',
        weights_only=False)
    groups = ckpt['optimizer']['segmentor']['param_groups']
    assert sorted({m for g in groups for m in g['multiplicities']}) == [1, 2]
