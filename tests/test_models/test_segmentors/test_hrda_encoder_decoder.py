"""HRDAEncoderDecoder: context + detail crop training, sliding detail
inference and batched slide testing, compared with a re-statement of
lhoyer/MIC seg/mmseg/models/segmentors/hrda_encoder_decoder.py and
seg/mmseg/models/decode_heads/hrda_head.py (tests/reference/hrda.py)."""
import inspect
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmseg_uda  # noqa: F401  (registers the models)
from mmseg_uda.models import HRDAEncoderDecoder, HRDAHead
from mmseg_uda.models.segmentors.hrda_encoder_decoder import HRDA_TEST_CFG
from mmseg_uda.models.utils.hrda_crops import random_crop_box
from tests.conftest import REPO_ROOT
from tests.reference import hrda as ref
from tests.reference.original_deeplabv2 import randomize_bn_statistics
from tests.test_models.test_decode_heads.test_hrda_head import head_kwargs

NUM_CLASSES = 5
# a tiny MiT: stride-4 features of 8, 16, 24, 32 channels
BACKBONE = dict(type='MixVisionTransformer', in_channels=3, embed_dims=8,
                num_stages=4, num_layers=[1, 1, 1, 1], num_heads=[1, 2, 3, 4],
                patch_sizes=[7, 3, 3, 3], sr_ratios=[8, 4, 2, 1],
                drop_path_rate=0.)


def _cfg(**kwargs):
    head = head_kwargs(type='HRDAHead')
    head.pop('scales')
    head.update(kwargs.pop('head', {}))
    cfg = dict(type='HRDAEncoderDecoder', backbone=BACKBONE,
               decode_head=head, scales=[1, 0.5], hr_crop_size=(32, 32),
               crop_coord_divisible=8, feature_scale=0.5,
               test_cfg=dict(mode='slide', batched_slide=True,
                             crop_size=(64, 64), stride=(32, 32)))
    cfg.update(kwargs)
    return cfg


def _model(**kwargs):
    torch.manual_seed(0)
    model = MODELS.build(_cfg(**kwargs))
    model.init_weights()
    with torch.no_grad():
        for param in model.decode_head.parameters():
            param.add_(0.1 * torch.randn_like(param))
    randomize_bn_statistics(model, seed=1)
    return model.eval()


def _parts(model):
    head = model.decode_head
    return model.backbone, head.head, head.scale_attention


def _images(h=64, w=64, batch=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, h, w, generator=gen)


def _samples(labels):
    return [SegDataSample(gt_sem_seg=PixelData(data=label[None]))
            for label in labels]


def _labels(h=64, w=64, batch=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, NUM_CLASSES, (batch, h, w), generator=gen)
    labels[:, :4] = 255
    return labels


def _reference_levels(model, img, seed):
    backbone, head, attention = _parts(model)
    np.random.seed(seed)
    feats, box = ref.forward_train_features(backbone, img, [0.5, 1],
                                            (32, 32), 8)
    return ref.hrda_head_forward(head, attention, feats, [0.5, 1], os=4,
                                 hr_crop_box=box), box, feats


def test_training_levels_equal_original():
    model = _model()
    img = _images()
    for seed in (0, 1, 2):
        np.random.seed(seed)
        with torch.no_grad():
            levels, feats = model(img, None, mode='levels_and_feats')
            expected, box, ref_feats = _reference_levels(model, img, seed)
        assert model._hr_crop_box == box
        assert levels['main'].shape == (2, NUM_CLASSES, 16, 16)
        assert levels['hr'].shape == (2, NUM_CLASSES, 8, 8)
        for name, want in zip(('main', 'lr', 'hr'), expected):
            torch.testing.assert_close(levels[name], want, atol=1e-5,
                                       rtol=0)
        # the feature-distance features are the context's (scale 0.5)
        for got, want in zip(feats, ref_feats[0]):
            torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_extract_feat_is_at_feature_scale():
    model = _model()
    img = _images()
    with torch.no_grad():
        feats = model.extract_feat(img)
        expected = model.backbone(torch.nn.functional.interpolate(
            img, scale_factor=0.5, mode='bilinear'))
    assert feats[0].shape[2:] == (8, 8)
    for got, want in zip(feats, expected):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


@pytest.mark.parametrize('lr_loss_weight, weighted', [(0, False), (0, True),
                                                      (0.3, True)])
def test_losses_equal_original(lr_loss_weight, weighted):
    model = _model(head=dict(lr_loss_weight=lr_loss_weight))
    img, labels = _images(), _labels()
    pixel_weight = torch.rand(labels.shape) if weighted else None
    np.random.seed(4)
    levels = model(img, None, mode='levels')
    losses = model.loss_by_levels(levels, _samples(labels),
                                  pixel_weight=pixel_weight)
    expected, box, _ = _reference_levels(model, img, 4)
    want = ref.hrda_losses(expected, labels[:, None], pixel_weight, box,
                           lr_loss_weight=lr_loss_weight, hr_loss_weight=0.1)
    names = {'loss_seg': 'main.loss_ce', 'lr.loss_seg': 'lr.loss_ce',
             'hr.loss_seg': 'hr.loss_ce'}
    assert {k for k in losses if 'loss' in k} == {names[k] for k in want}
    for key, value in want.items():
        torch.testing.assert_close(losses[names[key]], value, atol=1e-5,
                                   rtol=0)
    assert {'main.acc_seg', 'hr.acc_seg'} <= set(losses)
    # the crop box is consumed: a second loss needs a new forward pass
    with pytest.raises(RuntimeError, match='forward_levels'):
        model.loss_by_levels(levels, _samples(labels))


def test_loss_mode_backpropagates_to_every_part():
    model = _model()
    model.train()
    losses = model(_images(), _samples(_labels()), mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    for name in ('backbone', 'decode_head.head',
                 'decode_head.scale_attention'):
        module = model.get_submodule(name)
        assert any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in module.parameters()), name


def test_crop_sampler_is_the_original_rule():
    # the same numpy draws give the same boxes
    for seed in range(20):
        np.random.seed(seed)
        ours = random_crop_box(1024, 2048, (512, 512), 8)
        np.random.seed(seed)
        assert ours == ref.get_crop_bbox(1024, 2048, (512, 512), 8)
    # statistics over many draws: inside the image, divisible by 8, every
    # allowed offset reachable
    np.random.seed(0)
    boxes = np.array([random_crop_box(100, 60, (32, 16), 8)
                      for _ in range(2000)])
    y1, y2, x1, x2 = boxes.T
    assert (y1 >= 0).all() and (y2 <= 100).all() and (y2 - y1 == 32).all()
    assert (x1 >= 0).all() and (x2 <= 60).all() and (x2 - x1 == 16).all()
    assert (y1 % 8 == 0).all() and (x1 % 8 == 0).all()
    # margins 68 and 44: randint(0, (margin + 1) // 8) * 8 gives offsets
    # 0..56 and 0..40 (the original's exclusive bound: the last window
    # position, 64 here, is never drawn when the margin is a multiple of 8)
    assert set(y1) == set(range(0, 57, 8))
    assert set(x1) == set(range(0, 33, 8))
    assert random_crop_box(32, 16, (32, 16), 8) == (0, 32, 0, 16)
    with pytest.raises(ValueError, match='divisible by 8'):
        random_crop_box(36, 16, (32, 8), 8)


def test_pseudo_label_logits_slide_the_detail_scale_as_original():
    model = _model()
    backbone, head, attention = _parts(model)
    img = _images(64, 96)
    with torch.no_grad():
        logits = model(img, None, mode='inference_levels')['main']
        full = model.encode_decode(img, [{}] * 2)
        expected = ref.encode_decode(backbone, head, attention, img,
                                     [0.5, 1], (32, 32))
    assert logits.shape == (2, NUM_CLASSES, 16, 24)
    torch.testing.assert_close(full, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(
        torch.nn.functional.interpolate(logits, size=(64, 96),
                                        mode='bilinear'), expected,
        atol=1e-5, rtol=0)


def test_batched_slide_inference_equals_original():
    model = _model()
    backbone, head, attention = _parts(model)
    img = _images(64, 128, batch=1)
    metas = [dict(ori_shape=(64, 128), img_shape=(64, 128))]
    with torch.no_grad():
        batched = model.inference(img, metas)
        expected = ref.slide_inference(
            lambda x: ref.encode_decode(backbone, head, attention, x,
                                        [0.5, 1], (32, 32)),
            img, NUM_CLASSES, stride=(32, 32), crop_size=(64, 64))
        model.test_cfg['batched_slide'] = False
        one_by_one = model.inference(img, metas)
    # mmseg 1.x's inference returns logits (the original, softmax of them)
    torch.testing.assert_close(batched, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(one_by_one, batched, atol=1e-5, rtol=0)


def test_predict_gives_labels_at_the_original_size():
    model = _model()
    sample = SegDataSample(metainfo=dict(ori_shape=(64, 128),
                                         img_shape=(64, 128)))
    with torch.no_grad():
        pred, = model(_images(64, 128, batch=1), [sample], mode='predict')
    assert pred.pred_sem_seg.data.shape == (1, 64, 128)
    assert pred.seg_logits.data.shape == (NUM_CLASSES, 64, 128)


def test_defaults_are_the_shipped_hrda_config():
    """The numbers of lhoyer/MIC seg/configs/hrda/gtaHR2csHR_hrda.py are our
    defaults."""
    original = ref.ORIGINAL_GTAHR2CSHR_HRDA
    params = inspect.signature(HRDAEncoderDecoder).parameters
    assert sorted(params['scales'].default) == sorted(original['scales'])
    assert list(params['hr_crop_size'].default) == original['hr_crop_size']
    for key in ('feature_scale', 'crop_coord_divisible',
                'hr_slide_inference'):
        assert params[key].default == original[key], key
    # lhoyer/MIC seg/mmseg/models/segmentors/hrda_encoder_decoder.py
    for key, value in ref.ORIGINAL_SEGMENTOR_DEFAULTS.items():
        assert params[key].default == value, key
    head_params = inspect.signature(HRDAHead).parameters
    for key in ('attention_classwise', 'hr_loss_weight'):
        assert head_params[key].default == original[key], key
    test_cfg = original['test_cfg']
    assert HRDA_TEST_CFG['mode'] == test_cfg['mode']
    assert HRDA_TEST_CFG['batched_slide'] == test_cfg['batched_slide']
    assert list(HRDA_TEST_CFG['stride']) == test_cfg['stride']
    assert list(HRDA_TEST_CFG['crop_size']) == test_cfg['crop_size']
    # a model built without them gets them
    cfg = _cfg()
    for key in ('scales', 'hr_crop_size', 'crop_coord_divisible',
                'feature_scale', 'test_cfg'):
        cfg.pop(key)
    model = MODELS.build(cfg)
    assert model.scales == [0.5, 1]
    assert model.crop_size == (512, 512)
    assert model.test_cfg == HRDA_TEST_CFG
    assert model.decode_head.enable_hr_crop


@pytest.mark.parametrize('kwargs, match', [
    (dict(feature_scale=0.25), 'feature_scale'),
    (dict(scales=[1]), 'two positive scales'),
    (dict(auxiliary_head=dict(type='FCNHead')), 'auxiliary_head'),
    (dict(crop_coord_divisible=0), 'crop_coord_divisible'),
    (dict(hr_crop_size=None), 'hr_slide_inference needs hr_crop_size'),
])
def test_bad_config_is_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MODELS.build(_cfg(**kwargs))


def test_needs_an_hrda_head():
    cfg = _cfg()
    cfg['decode_head']['type'] = 'DAFormerHead'
    with pytest.raises(ValueError, match='HRDAHead'):
        MODELS.build(cfg)


def test_blurred_detail_scale_is_downscaled_and_upscaled():
    """HRDA's ``blur_hr_crop``: the scale-1 input is resized by 0.5 and
    back (bilinear); the context scale is not blurred."""
    model = _model(blur_hr_crop=True)
    img = _images()
    down_up = torch.nn.functional.interpolate(
        torch.nn.functional.interpolate(img, scale_factor=0.5,
                                        mode='bilinear'),
        scale_factor=2, mode='bilinear')
    torch.testing.assert_close(model.scaled_input(img, 1), down_up)
    assert not torch.allclose(model.scaled_input(img, 1), img)
    torch.testing.assert_close(
        model.scaled_input(img, 0.5),
        torch.nn.functional.interpolate(img, scale_factor=0.5,
                                        mode='bilinear'))


def test_original_overrides_on_the_daformer_model_base(tmp_path):
    """lhoyer/MIC seg/configs/hrda/gtaHR2csHR_hrda.py turns the DAFormer
    network into HRDA by overriding its model; the same overrides on our
    DAFormer model base build HRDA around the shipped DAFormer head."""
    base = osp.join(REPO_ROOT,
                    'configs/_base_/models/daformer_sepaspp_mitb5.py')
    original = ref.ORIGINAL_GTAHR2CSHR_HRDA
    cfg_file = tmp_path / 'hrda.py'
    cfg_file.write_text(
        f'_base_ = [{base!r}]\n'
        'model = dict(\n'
        "    type='HRDAEncoderDecoder',\n"
        "    decode_head=dict(type='HRDAHead', single_scale_head="
        "'DAFormerHead', attention_classwise=True, hr_loss_weight=0.1),\n"
        f"    scales={original['scales']},\n"
        f"    hr_crop_size={original['hr_crop_size']},\n"
        f"    feature_scale={original['feature_scale']},\n"
        f"    crop_coord_divisible={original['crop_coord_divisible']},\n"
        '    hr_slide_inference=True,\n'
        f"    test_cfg=dict(_delete_=True, **{original['test_cfg']!r}))\n")
    cfg = Config.fromfile(str(cfg_file))
    cfg.model.backbone.init_cfg = None
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    head = model.decode_head
    assert head.hr_loss_weight == 0.1 and head.enable_hr_crop
    # the per-scale head is the shipped DAFormer head (separable ASPP)
    assert head.head.channels == 256
    assert hasattr(head.head.fuse_layer, 'aspp_modules')
    # the attention head: 256-d, 1x1 conv fusion, one channel per class
    assert head.scale_attention.channels == 256
    assert head.scale_attention.fuse_layer.conv.kernel_size == (1, 1)
    assert head.scale_attention.conv_seg.out_channels == 19
    assert model.test_cfg == original['test_cfg']


def test_dacs_trains_an_hrda_segmentor_with_the_feature_distance():
    """DACS's step calls ``mode='levels'``/``'levels_and_feats'`` and
    ``loss_by_levels`` (with pixel weights on the mixed images): HRDA's
    fused and detail losses are logged for both, the feature distance runs
    on the context features and the student's weights move."""
    from mmseg_uda.models.uda.dacs_uda_segmentor import DACSUDASegmentor
    from tests.test_models.test_uda.test_dacs_uda_segmentor import (_batch,
                                                                    _optim)
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = DACSUDASegmentor(
        segmentor=_cfg(),
        data_preprocessor=dict(type='UDASegDataPreProcessor',
                               mean=[0, 0, 0], std=[255, 255, 255],
                               size=(64, 64)),
        imnet_feature_dist=dict(type='FeatureDistanceLoss', loss_weight=1.0,
                                thing_classes=[1, 2], scale_min_ratio=0.75,
                                num_classes=NUM_CLASSES))
    model.init_weights()
    seen = []
    distance = model.imnet_feature_dist.forward
    model.imnet_feature_dist.forward = lambda s, i, label: (
        seen.append((s[0].shape, i[0].shape)) or distance(s, i, label))
    before = [p.detach().clone() for p in model.segmentor.parameters()]
    np.random.seed(0)
    log = model.train_step(dict(source=_batch(0, True, (64, 64)),
                                target=_batch(1, False, (64, 64))),
                           _optim(model))
    for key in ('src.main.loss_ce', 'src.hr.loss_ce', 'mix.main.loss_ce',
                'mix.hr.loss_ce', 'src.loss_imnet_feat_dist'):
        assert torch.isfinite(log[key]), key
    # context features (64x64 at scale 0.5, stride 4) on both sides
    assert seen == [((2, 8, 8, 8), (2, 8, 8, 8))]
    assert any(not torch.equal(b, p) for b, p in
               zip(before, model.segmentor.parameters()))


def test_dacs_teacher_labels_with_sliding_detail_windows_as_original():
    """DACS's teacher labels target images as HRDA's
    ``generate_pseudo_label``: ``encode_decode`` with the detail scale slid
    in overlapping windows, not a random detail crop (``mode='levels'``),
    so the labels do not depend on numpy's random state."""
    from mmseg_uda.models.uda.dacs_uda_segmentor import DACSUDASegmentor
    init_default_scope('mmseg')
    model = DACSUDASegmentor(segmentor=_cfg())
    model.teacher.load_state_dict(_model().state_dict())
    model.teacher.eval()
    backbone, head, attention = _parts(model.teacher)
    img = _images(64, 96)
    with torch.no_grad():
        probs = ref.encode_decode(backbone, head, attention, img, [0.5, 1],
                                  (32, 32)).softmax(dim=1)
    confidence, expected = probs.max(dim=1)
    for seed in (0, 1):
        np.random.seed(seed)
        labels, weight = model.pseudo_label(img)
        torch.testing.assert_close(labels, expected, atol=0, rtol=0)
        assert weight == (confidence >= model.pseudo_threshold).float().mean()


def test_inference_without_detail_windows_equals_original():
    """``hr_slide_inference=False``: the detail scale is the whole image."""
    model = _model(hr_slide_inference=False)
    backbone, head, attention = _parts(model)
    img = _images(64, 96)
    with torch.no_grad():
        got = model.encode_decode(img, [{}] * 2)
        expected = ref.encode_decode(backbone, head, attention, img,
                                     [0.5, 1], (32, 32),
                                     hr_slide_inference=False)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_whole_inference_is_the_fused_prediction():
    model = _model()
    img = _images(64, 96, batch=1)
    metas = [dict(ori_shape=(64, 96), img_shape=(64, 96))]
    with torch.no_grad(), model.test_cfg_options(mode='whole'):
        torch.testing.assert_close(model.inference(img, metas),
                                   model.encode_decode(img, metas))
    with model.test_cfg_options(mode='whole', logits_to_ori_shape=True), \
            pytest.raises(ValueError, match='logits_to_ori_shape'):
        model.inference(img, metas)
