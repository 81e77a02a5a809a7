# AdaptSegNet LS-GAN (44.1 mIoU): the published recipe is single-level with
# adversarial weight 0.01 (multi-level LS-GAN was never run by the authors).
_base_ = ['./deeplabv2_r101_single_gta2cs.py']  # single-level AdaptSegNet
model = dict(gan_loss='lsgan', adv_weights=dict(main=0.01))
