"""UDA models: weights checked at build, mmseg's ``pretrained``/``train_cfg``
arguments, and checkpoints of the other kind (plain <-> UDA) on load."""
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import mmseg_uda  # noqa: F401
from mmseg_uda.utils.checkpoint_coverage import checkpoint_coverage

NUM_CLASSES = 3


def _segmentor():
    head = dict(type='DeepLabV2Head', dilations=(1, 2),
                num_classes=NUM_CLASSES, align_corners=True,
                loss_decode=dict(type='CrossEntropyLoss'))
    return dict(
        type='UDAEncoderDecoder',
        backbone=dict(type='DeepLabV2ResNet', depth=18, stem_channels=8,
                      base_channels=8, style='pytorch', init_cfg=None),
        decode_head=dict(head, in_channels=64, in_index=1),
        auxiliary_head=dict(head, in_channels=32, in_index=0),
        test_cfg=ConfigDict(mode='whole'))


def _build(type_='AdversarialUDASegmentor', **kwargs):
    kwargs.setdefault('segmentor', _segmentor())
    cfg = dict(type=type_, **kwargs)
    if type_ == 'AdversarialUDASegmentor':
        cfg.setdefault('discriminator',
                       dict(type='FCDiscriminator', base_channels=4))
    init_default_scope('mmseg')
    torch.manual_seed(0)
    return MODELS.build(cfg)


@pytest.mark.parametrize('type_, option', [
    ('AdversarialUDASegmentor', 'adv_weights'),
    ('AdversarialUDASegmentor', 'ssl_weights'),
    ('AdvEntUDASegmentor', 'adv_weights'),
    ('MinEntUDASegmentor', 'ent_weights')])
@pytest.mark.parametrize('value, error, said', [
    ('abc', TypeError, "got 'abc' (str)"),
    ([0.1], TypeError, 'got [0.1] (list)'),
    (True, TypeError, 'got True (bool)'),
    (-0.001, ValueError, 'must be a number >= 0, got -0.001'),
    (float('nan'), ValueError, 'got nan')])
def test_weights_are_checked_at_build(type_, option, value, error, said):
    kwargs = {option: dict(main=value)}
    if type_ == 'AdvEntUDASegmentor':
        kwargs['discriminator'] = dict(type='FCDiscriminator',
                                       base_channels=4)
    with pytest.raises(error) as err:
        _build(type_, **kwargs)
    assert f'{option}.main' in str(err.value) and said in str(err.value)


def test_weight_dict_must_be_a_dict():
    with pytest.raises(TypeError, match='adv_weights must be a dict'):
        _build(adv_weights=0.001)


@pytest.mark.parametrize('option, value', [
    ('pseudo_threshold', 'abc'), ('pseudo_threshold', 1.5),
    ('color_jitter_strength', -0.2), ('blur_prob', [0.5]),
    ('blur_kernel_ratio', 'x')])
def test_self_training_numbers_are_checked_at_build(option, value):
    with pytest.raises((TypeError, ValueError)) as err:
        _build('DACSUDASegmentor', **{option: value})
    assert str(err.value).startswith(option)


def test_pretrained_and_train_cfg_as_mmseg_init_model_passes_them():
    # mmseg.apis.init_model sets both to None on any model config
    model = _build(pretrained=None, train_cfg=None)
    assert model.adv_weights == dict(main=0.001, aux=0.0002)
    model = _build(train_cfg=dict(marker=1))
    assert model.seg.train_cfg == dict(marker=1)


def _plain_state():
    init_default_scope('mmseg')
    torch.manual_seed(1)
    return MODELS.build(_segmentor()).state_dict()


def test_plain_checkpoint_into_uda_model_says_what_starts_fresh(info_log):
    model = _build()
    before = {k: v.clone() for k, v in model.state_dict().items()
              if k.startswith('discriminators.')}
    plain = _plain_state()
    result = model.load_state_dict(plain, strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == []
    said = ' '.join(info_log)
    assert 'plain segmentor checkpoint: loaded into `segmentor`; ' \
        'discriminators start from scratch' in said
    for key, value in plain.items():
        torch.testing.assert_close(model.state_dict()[f'segmentor.{key}'],
                                   value)
    for key, value in before.items():  # untouched
        torch.testing.assert_close(model.state_dict()[key], value)


def test_uda_checkpoint_into_plain_segmentor_loads_the_segmentor():
    uda = _build().state_dict()
    init_default_scope('mmseg')
    torch.manual_seed(2)
    plain = MODELS.build(_segmentor())
    result = plain.load_state_dict(uda, strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for key, value in plain.state_dict().items():
        torch.testing.assert_close(value, uda[f'segmentor.{key}'])


def test_coverage_counts_what_a_checkpoint_fills():
    plain = _plain_state()
    init_default_scope('mmseg')
    seg = MODELS.build(_segmentor())
    full = checkpoint_coverage(seg, {'state_dict': plain})
    assert full.loaded_tensors == full.total_tensors > 0
    assert full.fraction == 1.0
    renamed = {f'net.{k}': v for k, v in plain.items()}
    none = checkpoint_coverage(MODELS.build(_segmentor()), renamed)
    assert none.loaded_values == 0 and len(none.unexpected) == len(plain)
    # a UDA model is judged by its segmentor: no discriminator needed
    uda = checkpoint_coverage(_build(), {'state_dict': plain})
    assert uda.scope == 'segmentor' and uda.fraction == 1.0


@pytest.mark.parametrize('type_', ['AdversarialUDASegmentor',
                                   'MinEntUDASegmentor', 'DACSUDASegmentor'])
def test_data_preprocessor_defaults_to_the_segmentors(type_):
    segmentor = dict(_segmentor(), data_preprocessor=dict(
        type='SegDataPreProcessor', mean=[10., 20., 30.], std=[1., 2., 4.],
        bgr_to_rgb=True, size=(16, 24), pad_val=0, seg_pad_val=255))
    model = _build(type_, segmentor=segmentor)
    pre = model.data_preprocessor
    assert type(pre).__name__ == 'UDASegDataPreProcessor'
    assert pre.mean.flatten().tolist() == [10., 20., 30.]
    assert pre.std.flatten().tolist() == [1., 2., 4.]
    assert pre.channel_conversion and pre.size == (16, 24)
    # the segmentor keeps its own, stock one
    assert type(model.seg.data_preprocessor).__name__ == \
        'SegDataPreProcessor'
    # a given data_preprocessor wins
    given = _build(type_, segmentor=segmentor, data_preprocessor=dict(
        type='UDASegDataPreProcessor', mean=[1., 1., 1.], std=[1., 1., 1.]))
    assert given.data_preprocessor.mean.flatten().tolist() == [1., 1., 1.]
    assert not given.data_preprocessor.channel_conversion
