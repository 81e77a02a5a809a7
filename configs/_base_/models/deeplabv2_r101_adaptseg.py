# DeepLab-v2 R101 as AdaptSegNet's published models: its classifier builds
# four dilated convs but returns inside the summation loop, so only rates
# (6, 12) are summed (convert its checkpoints with --num-rates 2).
_base_ = ['./deeplabv2_r101.py']  # the DeepLab-v2 R101 of the originals
model = dict(
    decode_head=dict(dilations=(6, 12)),
    auxiliary_head=dict(dilations=(6, 12)))
