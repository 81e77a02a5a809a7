# AdaptSegNet single-level (41.4 mIoU): adaptation of the main output only,
# on the network without the auxiliary classifier.
_base_ = ['./deeplabv2_r101_gta2cs.py']  # multi-level AdaptSegNet
model = dict(
    segmentor=dict(auxiliary_head=None),
    adv_weights=dict(_delete_=True, main=0.001))
