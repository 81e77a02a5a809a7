"""A re-statement of one training step of BDL's translator (plain torch).

Written from liyunsheng13/BDL ``cyclegan/cycle_gan_model.py``
(``optimize_parameters``: ``forward``, ``backward_G``, ``backward_D_A``,
``backward_D_B``, ``compute_semantic_feat``, ``img_preprocess``) and
``cyclegan/networks.py`` (``ResnetGenerator``, ``ResnetBlock``,
``NLayerDiscriminator``, ``GANLoss``, ``get_norm_layer('instance')``), used
only as a reference in tests. A = source (GTA5), B = target (Cityscapes):
G_A translates A to B, D_A judges B images. The perceptual network is BDL's
``cyclegan/deeplab.py``: single-level, four classifier convs of which only
the first two are summed (``OriginalResNetMulti(multi_level=False,
used_rates=2)``), in eval mode.
"""
from typing import Dict

import torch
import torch.nn as nn

from .original_deeplabv2 import OriginalResNetMulti

BGR_MEAN = (104.00698793, 116.66876762, 122.67891434)


def instance_norm(channels: int) -> nn.Module:
    """BDL's ``get_norm_layer('instance')``."""
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=True)


class BDLResnetBlock(nn.Module):

    def __init__(self, dim: int):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=True),
            instance_norm(dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=True),
            instance_norm(dim))

    def forward(self, x):
        return x + self.conv_block(x)


class BDLResnetGenerator(nn.Module):

    def __init__(self, ngf: int = 64, n_blocks: int = 9):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7, bias=True),
                  instance_norm(ngf), nn.ReLU(True)]
        for mult in (1, 2):
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2,
                                 padding=1, bias=True),
                       instance_norm(ngf * mult * 2), nn.ReLU(True)]
        layers += [BDLResnetBlock(ngf * 4) for _ in range(n_blocks)]
        for mult in (4, 2):
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3,
                                          stride=2, padding=1,
                                          output_padding=1, bias=True),
                       instance_norm(ngf * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class BDLNLayerDiscriminator(nn.Module):

    def __init__(self, ndf: int = 64, n_layers: int = 3):
        super().__init__()
        layers = [nn.Conv2d(3, ndf, 4, stride=2, padding=1),
                  nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2,
                                 padding=1, bias=True),
                       instance_norm(ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2**n_layers, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1,
                             bias=True),
                   instance_norm(ndf * mult), nn.LeakyReLU(0.2, True),
                   nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


def gan_loss(pred: torch.Tensor, is_real: bool) -> torch.Tensor:
    """``GANLoss(use_lsgan=True)``: MSE against 1 (real) or 0 (fake)."""
    target = torch.tensor(1.0 if is_real else 0.0).expand_as(pred)
    return nn.functional.mse_loss(pred, target)


def img_preprocess(batch: torch.Tensor) -> torch.Tensor:
    """RGB in [-1, 1] -> BGR in [0, 255] minus the caffe mean."""
    r, g, b = torch.chunk(batch, 3, dim=1)
    batch = (torch.cat((b, g, r), dim=1) + 1) * 255 * 0.5
    mean = torch.tensor(BGR_MEAN, dtype=batch.dtype).view(1, 3, 1, 1)
    return batch - mean


def perceptual_network(layers=(3, 4, 23, 3)) -> nn.Module:
    """``networks.semantic``: cyclegan/deeplab.py's network, eval, frozen."""
    net = OriginalResNetMulti(layers=layers, num_classes=19,
                              multi_level=False, used_rates=2)
    net.eval()
    for p in net.parameters():
        p.requires_grad = False
    return net


def bdl_translator_step(nets: Dict[str, nn.Module], real_A: torch.Tensor,
                        real_B: torch.Tensor, semantic: nn.Module,
                        lambda_A: float = 10.0, lambda_B: float = 10.0,
                        lambda_idt: float = 0.5,
                        lambda_semantic: float = 1.0) -> dict:
    """Losses and gradients of one ``optimize_parameters`` (no step taken).

    Args:
        nets (dict): ``G_A``, ``G_B``, ``D_A``, ``D_B``.
        real_A, real_B (Tensor): RGB images in [-1, 1]. The image pools are
            empty, so they return the new fakes.
        semantic (nn.Module): The perceptual network (its forward returns
            ``(None, logits)``).

    Returns:
        dict: ``losses`` (BDL's 12 ``loss_names``, floats) and ``grads``
        (per net, a list of gradients in ``parameters()`` order).
    """
    G_A, G_B, D_A, D_B = (nets[k] for k in ('G_A', 'G_B', 'D_A', 'D_B'))
    for net in nets.values():
        net.zero_grad()
    instancenorm = nn.InstanceNorm2d(19, affine=False)

    def feat(img):
        return semantic(img_preprocess(img))[1]

    def sem_loss(img_feat, target_feat):
        return torch.mean((instancenorm(img_feat) -
                           instancenorm(target_feat))**2)

    # forward
    fake_B = G_A(real_A)
    rec_A = G_B(fake_B)
    fake_A = G_B(real_B)
    rec_B = G_A(fake_A)
    # backward_G with the discriminators frozen
    for net in (D_A, D_B):
        for p in net.parameters():
            p.requires_grad = False
    losses = {}
    idt_A = G_A(real_B)
    losses['idt_A'] = nn.functional.l1_loss(idt_A, real_B) * lambda_B * \
        lambda_idt
    idt_B = G_B(real_A)
    losses['idt_B'] = nn.functional.l1_loss(idt_B, real_A) * lambda_A * \
        lambda_idt
    losses['G_A'] = gan_loss(D_A(fake_B), True)
    losses['G_B'] = gan_loss(D_B(fake_A), True)
    losses['cycle_A'] = nn.functional.l1_loss(rec_A, real_A) * lambda_A
    losses['cycle_B'] = nn.functional.l1_loss(rec_B, real_B) * lambda_B
    real_A_feat, rec_A_feat = feat(real_A), feat(rec_A)
    real_B_feat, rec_B_feat = feat(real_B), feat(rec_B)
    fake_A_feat, fake_B_feat = feat(fake_A), feat(fake_B)
    losses['rec_sem_A'] = sem_loss(rec_A_feat, real_A_feat) * lambda_A * \
        lambda_semantic
    losses['rec_sem_B'] = sem_loss(rec_B_feat, real_B_feat) * lambda_B * \
        lambda_semantic
    losses['sem_A'] = sem_loss(fake_B_feat, real_A_feat) * 0.1
    losses['sem_B'] = sem_loss(fake_A_feat, real_B_feat) * 0.1
    sum(losses.values()).backward()
    for net in (D_A, D_B):
        for p in net.parameters():
            p.requires_grad = True

    # backward_D_A, backward_D_B (the pools return the new fakes)
    def backward_d(net, real, fake):
        loss = (gan_loss(net(real), True) +
                gan_loss(net(fake.detach()), False)) * 0.5
        loss.backward()
        return loss

    losses['D_A'] = backward_d(D_A, real_B, fake_B)
    losses['D_B'] = backward_d(D_B, real_A, fake_A)
    return dict(
        losses={k: v.item() for k, v in losses.items()},
        grads={name: [p.grad.clone() for p in net.parameters()]
               for name, net in nets.items()})
