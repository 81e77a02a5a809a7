"""DACSUDASegmentor (DACS): pseudo-labels and their weight, ClassMix,
the mix augmentations, and one training step on a tiny DeepLab-v2 against a
re-statement of DAFormer's DACS step (tests/reference/daformer_dacs.py)."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapperDict
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmseg_uda.engine.optimizers import MultiOptimWrapperConstructor
from mmseg_uda.models.uda import dacs_uda_segmentor
from mmseg_uda.models.uda.dacs_uda_segmentor import \
    DACSUDASegmentor
from mmseg_uda.models.utils import mix_augmentation
from mmseg_uda.models.utils.class_mix import (class_mix, class_mix_masks,
                                              one_mix)
from mmseg_uda.models.utils.mix_augmentation import (blur_kernel_size,
                                                     gaussian_blur,
                                                     mix_augment)
from tests.reference.daformer_dacs import dacs_step
from tests.reference.models import load_config

CAFFE_MEAN = torch.tensor([104.00698793, 116.66876762, 122.67891434])


def _model(multi_level: bool = True, **kwargs) -> DACSUDASegmentor:
    """The tiny DeepLab-v2 with 4 classes; ``multi_level=False`` keeps the
    main head only, as DAFormer's DeepLab-v2 (one decode head)."""
    init_default_scope('mmseg')
    cfg = load_config('configs/_base_/models/deeplabv2_r18_tiny.py')
    cfg.model.decode_head.num_classes = 4
    cfg.model.auxiliary_head.num_classes = 4
    if not multi_level:
        cfg.model.auxiliary_head = None
    torch.manual_seed(0)
    model = DACSUDASegmentor(
        segmentor=cfg.model,
        data_preprocessor=dict(cfg.data_preprocessor,
                               type='UDASegDataPreProcessor'),
        **kwargs)
    model.init_weights()
    return model


def _batch(seed: int, labelled: bool, size=(32, 32)) -> dict:
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(2):
        inputs.append(torch.randint(0, 256, (3, *size), generator=gen,
                                    dtype=torch.uint8))
        sample = SegDataSample()
        sample.set_metainfo(dict(img_shape=size, ori_shape=size))
        if labelled:
            sample.gt_sem_seg = PixelData(
                data=torch.randint(0, 4, (1, *size), generator=gen))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def _optim(model) -> OptimWrapperDict:
    constructor = MultiOptimWrapperConstructor(dict(
        segmentor=dict(type='OptimWrapper',
                       optimizer=dict(type='SGD', lr=0.01))))
    return constructor(model)


def test_pseudo_weight_is_the_fraction_of_confident_pixels():
    model = _model(pseudo_threshold=0.968)
    # softmax maxima 0.99, 0.97, 0.96, 0.5 (classes 0, 1, 2, 3)
    probs = torch.full((1, 4, 2, 2), 1e-9)
    for (i, j), (cls, p) in zip([(0, 0), (0, 1), (1, 0), (1, 1)],
                                [(0, .99), (1, .97), (2, .96), (3, .5)]):
        probs[0, :, i, j] = (1 - p) / 3
        probs[0, cls, i, j] = p
    labels, weight = model.pseudo_labels_from_logits(probs.log())
    assert labels.tolist() == [[[0, 1], [2, 3]]]
    assert weight.item() == pytest.approx(0.5)
    model.pseudo_threshold = 0.95
    assert model.pseudo_labels_from_logits(probs.log())[1].item() == 0.75


def test_class_mix_masks_take_half_of_the_classes_of_each_image():
    labels = torch.tensor([[[0, 0, 1, 255], [2, 2, 1, 255]],
                           [[3, 3, 3, 3], [0, 1, 2, 4]]])
    gen = torch.Generator().manual_seed(3)
    masks = class_mix_masks(labels, ignore_index=255, generator=gen)
    assert masks.dtype == torch.bool and masks.shape == labels.shape
    for label, mask, num in zip(labels, masks, (2, 3)):  # ceil(3/2), ceil(5/2)
        chosen = set(label[mask].tolist())
        assert len(chosen) == num and 255 not in chosen
        for cls in label.unique().tolist():  # whole classes are pasted
            assert bool(mask[label == cls].all()) == (cls in chosen)


def test_class_mix_on_a_hand_made_example():
    mask = torch.tensor([[[True, False], [False, True]]])
    src_img = torch.full((1, 3, 2, 2), 1.0)
    tgt_img = torch.full((1, 3, 2, 2), -1.0)
    src_label = torch.tensor([[[5, 6], [7, 8]]])
    pseudo = torch.tensor([[[1, 2], [3, 4]]])
    img, label, weight = class_mix(mask, src_img, tgt_img, src_label, pseudo,
                                   torch.full((1, 2, 2), 0.25))
    assert img[0, :, 0, 0].tolist() == [1.0] * 3
    assert img[0, :, 0, 1].tolist() == [-1.0] * 3
    assert label.tolist() == [[[5, 2], [3, 8]]]
    assert weight.tolist() == [[[1.0, 0.25], [0.25, 1.0]]]
    with pytest.raises(ValueError, match='cannot mix'):
        one_mix(mask, src_img, tgt_img[:, :, :1])


def test_mix_augment_keeps_the_normalisation_and_channel_order():
    gen = torch.Generator().manual_seed(0)
    pixels = torch.rand(2, 3, 20, 24, generator=gen) * 255
    bgr = pixels - CAFFE_MEAN.view(1, 3, 1, 1)
    # no jitter strength, no blur: denormalise and renormalise only
    same = mix_augment(bgr, CAFFE_MEAN, torch.ones(3), rgb=False,
                       color_jitter_strength=0.0, color_jitter_prob=1.0,
                       blur_prob=0.0)
    torch.testing.assert_close(same, bgr)
    # jittering BGR images is jittering their RGB version, channels flipped
    mean_rgb, std_rgb = CAFFE_MEAN.flip(0), torch.tensor([2.0, 3.0, 4.0])
    rgb = (pixels.flip(1) - mean_rgb.view(1, 3, 1, 1)) / std_rgb.view(
        1, 3, 1, 1)
    bgr = (pixels - CAFFE_MEAN.view(1, 3, 1, 1)) / std_rgb.flip(0).view(
        1, 3, 1, 1)
    kwargs = dict(color_jitter_strength=0.2, color_jitter_prob=1.0,
                  blur_prob=1.0)
    out_bgr = mix_augment(bgr, CAFFE_MEAN, std_rgb.flip(0), rgb=False,
                          generator=torch.Generator().manual_seed(1),
                          **kwargs)
    out_rgb = mix_augment(rgb, mean_rgb, std_rgb, rgb=True,
                          generator=torch.Generator().manual_seed(1),
                          **kwargs)
    assert not torch.allclose(out_rgb, rgb, atol=1.0)
    out_pixels = out_rgb * std_rgb.view(1, 3, 1, 1) + mean_rgb.view(
        1, 3, 1, 1)
    assert out_pixels.min() >= -1e-3 and out_pixels.max() <= 255 + 1e-3
    torch.testing.assert_close(out_bgr.flip(1) * std_rgb.view(1, 3, 1, 1),
                               out_rgb * std_rgb.view(1, 3, 1, 1),
                               rtol=1e-4, atol=1e-3)


def test_gaussian_blur_kernel_and_mass():
    # DAFormer: floor(ceil(0.1 n) - 0.5 + ceil(0.1 n) % 2)
    assert [blur_kernel_size(n) for n in (512, 530, 1024, 40)] == \
        [51, 53, 103, 3]
    flat = torch.full((1, 3, 40, 40), 7.0)
    torch.testing.assert_close(gaussian_blur(flat, torch.tensor([1.0])),
                               flat)
    impulse = torch.zeros(1, 1, 40, 40)
    impulse[0, 0, 20, 20] = 1.0
    blurred = gaussian_blur(impulse, torch.tensor([0.8]))
    assert blurred.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert blurred[0, 0, 20, 20] < 1.0
    torch.testing.assert_close(blurred[0, 0, 19, 20], blurred[0, 0, 21, 20])
    torch.testing.assert_close(blurred[0, 0, 20, 19], blurred[0, 0, 19, 20])


def test_loss_by_levels_with_pixel_weights_is_the_pixel_weighted_ce():
    model = _model()
    gen = torch.Generator().manual_seed(0)
    levels = {'main': torch.randn(1, 4, 4, 4, generator=gen),
              'aux': torch.randn(1, 4, 4, 4, generator=gen)}
    labels = torch.randint(0, 4, (1, 4, 4), generator=gen)
    labels[0, 0, 0] = 255
    weights = torch.rand(1, 4, 4, generator=gen)
    losses = model.seg.loss_by_levels(
        levels, model.label_samples(labels), pixel_weight=weights)
    valid = (labels != 255).sum()
    for level, loss_weight in (('main', 1.0), ('aux', 0.1)):
        ce = F.cross_entropy(levels[level], labels, ignore_index=255,
                             reduction='none')
        expected = loss_weight * (ce * weights).sum() / valid
        torch.testing.assert_close(losses[f'{level}.loss_ce'], expected)
        hits = (levels[level].argmax(1) == labels)[labels != 255]
        torch.testing.assert_close(losses[f'{level}.acc_seg'],
                                   100 * hits.float().mean().view(1))
    with pytest.raises(ValueError, match='pixel_weight must have the label'):
        model.seg.loss_by_levels(levels, model.label_samples(labels),
                                 pixel_weight=weights[0])


@pytest.mark.parametrize('mix,prefix', [('class', 'mix'), (None, 'tgt')])
def test_train_step_trains_the_student_only(mix, prefix):
    model = _model(mix=mix)
    model.train()
    optim = _optim(model)
    optimized = {id(p) for g in optim['segmentor'].param_groups
                 for p in g['params']}
    assert not optimized & {id(p) for p in model.teacher.parameters()}
    assert all(not p.requires_grad for p in model.teacher.parameters())
    assert model.student is model.segmentor
    teacher = copy.deepcopy(model.teacher.state_dict())
    student = copy.deepcopy(model.student.state_dict())
    data = dict(source=_batch(0, True), target=_batch(1, False))

    log_vars = model.train_step(data, optim)

    for key in ('src.main.loss_ce', 'src.aux.loss_ce', f'{prefix}.main.'
                'loss_ce', f'{prefix}.aux.loss_ce', f'{prefix}.main.acc_seg',
                f'{prefix}.pseudo_weight'):
        assert key in log_vars, key
    assert torch.isfinite(log_vars[f'{prefix}.main.loss_ce'])
    assert all(p.grad is None for p in model.teacher.parameters())
    for name, param in model.teacher.named_parameters():
        assert torch.equal(param, teacher[name]), name  # EMA is the hook's
    moved = [k for k, v in model.student.state_dict().items()
             if v.is_floating_point() and not torch.equal(v, student[k])]
    assert any(k.startswith('decode_head.') for k in moved)
    assert any(k.startswith('backbone.') for k in moved)


def test_class_mix_needs_one_size_and_bad_arguments_are_refused():
    model = _model()
    data = dict(source=_batch(0, True, (32, 32)),
                target=_batch(1, False, (32, 40)))
    with pytest.raises(ValueError, match='one size'):
        model.train_step(data, _optim(model))
    with pytest.raises(TypeError, match='OptimWrapperDict'):
        model.train_step(data, _optim(model)['segmentor'])
    with pytest.raises(ValueError, match='mix'):
        _model(mix='cut')
    with pytest.raises(ValueError, match='pseudo_threshold'):
        _model(pseudo_threshold=1.5)


# DAFormer's pseudo_threshold (lhoyer/MIC seg/configs/_base_/uda/dacs.py)
DAFORMER_THRESHOLD = 0.968
# makes the random teacher confident enough that some pixels, not all,
# reach the threshold (so the pseudo-weight is neither 0 nor 1)
TEACHER_SCALE = 8.0


def _spy(monkeypatch, owner, name, seen):
    """Record what ``owner.name`` returns (and its arguments) in ``seen``.
    """
    real = getattr(owner, name)

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        seen[name] = (args, kwargs, out)
        return out

    monkeypatch.setattr(owner, name, spy)


def prepare_restatement(model, monkeypatch, source: dict) -> tuple:
    """Set up a step of ``model`` to compare with the re-statement.

    Puts ``model`` in train mode with a confident teacher, copies it for
    the re-statement, spies on the draws and the pseudo-labels (into
    ``seen``), and checks that both source images hold the same classes,
    no ignore pixel among them.

    Returns:
        tuple: The copy, ``seen``, the paired batch, the source labels
        (N, 1, H, W) and their classes.
    """
    model.train()
    with torch.no_grad():
        for param in model.teacher.decode_head.parameters():
            param.mul_(TEACHER_SCALE)
    reference = copy.deepcopy(model)
    seen = {}
    for owner, name in ((dacs_uda_segmentor, 'class_mix_masks'),
                        (dacs_uda_segmentor, 'class_mix'),
                        (mix_augmentation, 'gaussian_blur'),
                        (model, 'pseudo_label')):
        _spy(monkeypatch, owner, name, seen)
    data = dict(source=source, target=_batch(1, False))
    src_label = torch.stack(
        [s.gt_sem_seg.data for s in data['source']['data_samples']])
    classes = torch.unique(src_label)
    for label in src_label:  # the controls of the docstring
        assert torch.equal(torch.unique(label), classes)
    assert 255 not in classes
    return reference, seen, data, src_label, classes


def restated_step(reference, seen: dict, data: dict, src_label, classes,
                  **options) -> dict:
    """DAFormer's step (``dacs_step``) on the copy of the model, fed the
    draws our step made (seen by the spies); ``options`` go to
    ``dacs_step`` (the FD and the crop)."""
    student = reference.segmentor
    return dacs_step(
        student, reference.teacher,
        torch.optim.SGD([p for p in student.parameters()
                         if p.requires_grad], lr=0.01),
        normalised_images(data, 'source'), src_label,
        normalised_images(data, 'target'), DAFORMER_THRESHOLD,
        drawn_classes(seen, src_label, classes),
        seen['gaussian_blur'][0][1].tolist(), **options)


def drawn_classes(seen: dict, src_label, classes):
    """DAFormer's class draw ``choose(n, k)`` replaced by the classes our
    ClassMix drew (seen by the spy)."""
    masks = seen['class_mix_masks'][2]
    drawn = iter([torch.unique(label[mask])
                  for label, mask in zip(src_label[:, 0], masks)])

    def choose(num, count):
        picked = next(drawn)
        assert num == len(classes) and len(picked) == count
        return [int((classes == c).nonzero()) for c in picked]

    return choose


def normalised_images(data: dict, domain: str):
    """The images of ``domain`` as the preprocessor normalises them."""
    return torch.stack(data[domain]['inputs']).float() - \
        CAFFE_MEAN.view(1, 3, 1, 1)


def test_train_step_matches_a_restatement_of_daformer(monkeypatch):
    """One step against DAFormer's DACS step with the same draws: source
    CE, pseudo-label and weight, ClassMix masks, mixed image, label and
    weight, mixed CE and the student's parameters after the step.

    The draws are fixed or fed across: colour jitter off on both sides
    (ours is written in torch, DAFormer's is kornia's: not comparable draw
    for draw), blur on with the sigma each image drew here, and DAFormer's
    class choice replaced by the classes our ClassMix drew. Two documented
    differences are kept out of the comparison by the data: source labels
    hold no ignore pixels (our ClassMix never draws 255, and our CE averages
    over labelled pixels where DAFormer's averages over all), and both
    source images hold the same classes (DAFormer draws each image's classes
    from ``torch.unique`` of the whole batch, ours from the image's own, as
    DACS does)."""
    model = _model(multi_level=False, pseudo_threshold=DAFORMER_THRESHOLD,
                   mix='class', color_jitter_prob=0.0, blur_prob=1.0)
    reference, seen, data, src_label, classes = prepare_restatement(
        model, monkeypatch, _batch(0, True))

    initial = {k: v.detach().clone()
               for k, v in model.segmentor.named_parameters()}
    log_vars = model.train_step(copy.deepcopy(data), _optim(model))

    masks = seen['class_mix_masks'][2]
    sigmas = seen['gaussian_blur'][0][1]
    assert ((sigmas >= 0.15) & (sigmas <= 1.15)).all()

    student = reference.segmentor
    expected = restated_step(reference, seen, data, src_label, classes)

    torch.testing.assert_close(log_vars['src.main.loss_ce'],
                               expected['src_loss'], rtol=1e-5, atol=1e-6)
    labels, weight = seen['pseudo_label'][2]
    assert torch.equal(labels, expected['pseudo_label'])
    assert 0 < weight.item() < 1
    assert weight.item() == pytest.approx(
        expected['pseudo_weight'][0, 0, 0].item())
    assert log_vars['mix.pseudo_weight'].item() == pytest.approx(
        weight.item())
    assert torch.equal(masks, expected['masks'].bool())
    mixed_img, mixed_label, mixed_weight = seen['class_mix'][2]
    torch.testing.assert_close(mixed_img, expected['mixed_img'])
    assert torch.equal(mixed_label, expected['mixed_label'])
    torch.testing.assert_close(mixed_weight, expected['mixed_weight'])
    torch.testing.assert_close(log_vars['mix.main.loss_ce'],
                               expected['mix_loss'], rtol=1e-5, atol=1e-6)
    ours = dict(model.segmentor.named_parameters())
    for name, param in student.named_parameters():
        torch.testing.assert_close(ours[name], param, rtol=1e-5, atol=1e-6,
                                   msg=name)
    # the step moved the student (the comparison is not vacuous)
    assert not torch.equal(ours['decode_head.convs.0.weight'],
                           initial['decode_head.convs.0.weight'])
