"""One translator step of configs/bdl/cyclegan_perceptual_gta2cs.py against
BDL's code: liyunsheng13/BDL cyclegan/cycle_gan_model.py + networks.py +
deeplab.py, re-stated in tests/reference/bdl_cyclegan.py. All 12 loss terms
and every gradient of the generators and discriminators match, with the
perceptual network BDL's code uses (rates 6 and 12 of a 4-conv classifier)."""
import os.path as osp

import torch
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmseg_uda.utils import convert_original_deeplabv2
from tests.reference.bdl_cyclegan import (BDLNLayerDiscriminator,
                                          BDLResnetGenerator,
                                          bdl_translator_step,
                                          perceptual_network)
from tests.reference.models import REPO_ROOT, load_config
from tests.reference.original_deeplabv2 import randomize_bn_statistics

CONFIG = 'configs/bdl/cyclegan_perceptual_gta2cs.py'
# BDL's loss_names (cycle_gan_model.py) -> our log keys. A = GTA5 = source.
LOSS_NAMES = {
    'G_A': 'gen.loss_gan_s2t', 'G_B': 'gen.loss_gan_t2s',
    'cycle_A': 'gen.loss_cycle_source', 'cycle_B': 'gen.loss_cycle_target',
    'idt_A': 'gen.loss_identity_target', 'idt_B': 'gen.loss_identity_source',
    'sem_A': 'gen.loss_sem_s2t', 'sem_B': 'gen.loss_sem_t2s',
    'rec_sem_A': 'gen.loss_sem_rec_source',
    'rec_sem_B': 'gen.loss_sem_rec_target',
    'D_A': 'disc.loss_target', 'D_B': 'disc.loss_source',
}
# the ResNet-50 layout, cut to the first block of each stage (the blocks
# that differ: stride, dilation, downsample) to keep the CPU time small
LAYERS, DEPTH = (3, 4, 6, 3), 50


class GradRecorder(OptimWrapper):
    """Keeps the gradients each ``step`` sees (lr 0: nothing moves)."""

    def step(self, **kwargs):
        self.grads = {id(p): p.grad.detach().clone()
                      for group in self.optimizer.param_groups
                      for p in group['params'] if p.grad is not None}
        super().step(**kwargs)


def _first_blocks(backbone):
    """Keep the first block of each of the four stages."""
    for name in ('layer1', 'layer2', 'layer3', 'layer4'):
        setattr(backbone, name, torch.nn.Sequential(getattr(backbone,
                                                            name)[0]))


def _perceptual_files(tmp_path, original):
    """BDL's perceptual weights converted with --num-rates 2, and the
    shipped perceptual config at the R50 layout."""
    state, _ = convert_original_deeplabv2(original.state_dict(), num_rates=2)
    checkpoint = osp.join(tmp_path, 'perceptual.pth')
    torch.save(dict(state_dict=state), checkpoint)
    shipped = load_config(CONFIG).model.perceptual_segmentor
    config = osp.join(tmp_path, 'perceptual.py')
    with open(config, 'w') as f:
        f.write(f"_base_ = ['{osp.join(REPO_ROOT, shipped.config)}']\n"
                'model = dict(segmentor=dict(backbone=dict(\n'
                f'    depth={DEPTH}, init_cfg=None)))\n')
    return dict(shipped, config=config, checkpoint=checkpoint)


def _build(tmp_path, original):
    cfg = load_config(CONFIG).model
    cfg.generator.update(base_channels=8, num_blocks=2)
    cfg.discriminator.update(base_channels=8)
    cfg.perceptual_segmentor = _perceptual_files(tmp_path, original)
    init_default_scope('mmseg')
    torch.manual_seed(0)
    return MODELS.build(cfg)


def _batch(n=2, size=32):
    gen = torch.Generator().manual_seed(1)
    images = {d: [torch.randint(0, 256, (3, size, size), generator=gen,
                                dtype=torch.uint8) for _ in range(n)]
              for d in ('source', 'target')}
    data = {d: dict(inputs=list(imgs),
                    data_samples=[SegDataSample() for _ in imgs])
            for d, imgs in images.items()}
    # RGB in [-1, 1] as the data preprocessor makes it; CycleGAN's
    # ToTensor + Normalize((.5,) * 3, (.5,) * 3) differs only by rounding
    unit = {d: (torch.stack(imgs).flip(1).float() - 127.5) / 127.5
            for d, imgs in images.items()}
    for d, imgs in images.items():
        cyclegan = (torch.stack(imgs).flip(1).float() / 255 - 0.5) / 0.5
        assert (cyclegan - unit[d]).abs().max() <= 1e-6
    return data, unit


def _reference_nets(model):
    pairs = dict(
        G_A=(model.generators['source_to_target'], BDLResnetGenerator(8, 2)),
        G_B=(model.generators['target_to_source'], BDLResnetGenerator(8, 2)),
        D_A=(model.discriminators['target'], BDLNLayerDiscriminator(8)),
        D_B=(model.discriminators['source'], BDLNLayerDiscriminator(8)))
    for ours, ref in pairs.values():
        ours_params, ref_params = list(ours.parameters()), \
            list(ref.parameters())
        assert [p.shape for p in ours_params] == \
            [p.shape for p in ref_params]
        with torch.no_grad():
            for p, q in zip(ours_params, ref_params):
                q.copy_(p)
    return pairs


def test_all_twelve_terms_and_gradients_match_bdl(tmp_path):
    torch.manual_seed(3)
    original = perceptual_network(LAYERS)
    randomize_bn_statistics(original, seed=3)
    model = _build(str(tmp_path), original)
    # the network BDL's code uses: rates 6 and 12 only
    assert tuple(model.perceptual_segmentor.decode_head.dilations) == (6, 12)
    _first_blocks(original)
    _first_blocks(model.perceptual_segmentor.backbone)
    pairs = _reference_nets(model)

    data, unit = _batch()
    ref = bdl_translator_step({k: v[1] for k, v in pairs.items()},
                              unit['source'], unit['target'], original)

    wrappers = {
        name: GradRecorder(torch.optim.SGD(getattr(model, name).parameters(),
                                           lr=0.0))
        for name in ('generators', 'discriminators')
    }
    log_vars = model.train_step(data, OptimWrapperDict(**wrappers))

    assert set(ref['losses']) == set(LOSS_NAMES)
    for bdl_name, ours in LOSS_NAMES.items():
        value, expected = float(log_vars[ours].detach()), \
            ref['losses'][bdl_name]
        assert abs(value - expected) <= 1e-5 * abs(expected) + 1e-7, (
            bdl_name, value, expected)
    for name, (ours, _) in pairs.items():
        owner = 'generators' if name[0] == 'G' else 'discriminators'
        recorded = wrappers[owner].grads
        # float32 noise is relative to the net's largest gradient (biases
        # before an instance norm have a zero gradient up to that noise)
        scale = max(g.abs().max() for g in ref['grads'][name])
        assert scale > 0
        for p, expected in zip(ours.parameters(), ref['grads'][name]):
            got = recorded[id(p)]
            assert (got - expected).abs().max() <= 1e-4 * scale, name
