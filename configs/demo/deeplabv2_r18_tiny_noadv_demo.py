# Control for the demo AdaptSegNet run: the same warm start, schedule and
# paired batches (target images still pass through BN in train mode), with
# the adversarial terms switched off.
_base_ = ['./deeplabv2_r18_tiny_adaptseg_demo.py']  # demo AdaptSegNet
model = dict(adv_weights=dict(main=0.0, aux=0.0))
