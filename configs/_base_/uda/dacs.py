# DACS: online self-training on ClassMix images pseudo-labelled by a mean
# teacher, with DAFormer's defaults (DAFormer: configs/_base_/uda/dacs.py and
# experiments.py). The teacher's EMA hook, AdamW and the warm-up + poly
# schedule: ../schedules/schedule_dacs_40k.py. A method config builds the
# model as
#   model = dict(_delete_=True, segmentor=dict(_base_.model,
#                data_preprocessor=dict(_base_.data_preprocessor,
#                                       size=crop_size, size_divisor=None)),
#                **_base_.uda)
# (the UDA model takes its data preprocessor from the segmentor) and feeds
# source and target batches of one (cropped) size.
uda = dict(
    type='DACSUDASegmentor',
    # None: the segmentor's data preprocessor, for paired batches (an explicit
    # None also keeps mmengine's Runner from handing in the top-level one)
    data_preprocessor=None,
    # DAFormer pseudo_threshold: confidence a pixel needs to count towards
    # the pseudo-label weight
    pseudo_threshold=0.968,
    mix='class',  # ClassMix
    # DAFormer color_jitter_strength=0.2, color_jitter_probability=0.2 (the
    # jitter runs when U(0, 1) > 0.2, i.e. with probability 0.8)
    color_jitter_strength=0.2,
    color_jitter_prob=0.8,
    # DAFormer blur=True: when U(0, 1) > 0.5, sigma ~ U(0.15, 1.15), kernel
    # about 10% of the image side
    blur_prob=0.5,
    blur_sigma=(0.15, 1.15),
    blur_kernel_ratio=0.1)
