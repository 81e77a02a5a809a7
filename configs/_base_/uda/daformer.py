# DAFormer's self-training: DACS (ClassMix, threshold 0.968, colour jitter,
# blur; ./dacs.py) with an EMA teacher at 0.999 (the schedule's
# MeanTeacherHook), plus the thing-class ImageNet feature distance and the
# pseudo-label crop (lhoyer/MIC seg/configs/_base_/uda/dacs_a999_fdthings.py
# and seg/configs/daformer/
# gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py). Rare class
# sampling is a dataset option: train_dataloader.dataset.rare_class_sampling.
_base_ = ['./dacs.py']  # ClassMix, threshold, jitter, blur
uda = dict(
    # the student's features stay close to those of a frozen copy of the
    # ImageNet-initialised network on thing classes (dacs_a999_fdthings.py:
    # imnet_feature_dist_lambda=0.005, imnet_feature_dist_classes=[6, 7,
    # 11, ..., 18], imnet_feature_dist_scale_min_ratio=0.75)
    imnet_feature_dist=dict(
        type='FeatureDistanceLoss',
        loss_weight=0.005,
        # traffic light, traffic sign, person, rider, car, truck, bus,
        # train, motorcycle, bicycle
        thing_classes=[6, 7, 11, 12, 13, 14, 15, 16, 17, 18],
        scale_min_ratio=0.75),
    # pseudo-label crop: the top 15 and bottom 120 rows of a target crop get
    # pseudo-weight 0 (Cityscapes' rectification border and ego car;
    # experiments.py plcrop=True)
    pseudo_weight_ignore_top=15,
    pseudo_weight_ignore_bottom=120)
