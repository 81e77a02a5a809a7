# Runtime shared by every mmseg_uda config (mmseg 1.x style).
default_scope = 'mmseg'
# Registers mmseg_uda's models, datasets and metrics in mmseg's registries.
custom_imports = dict(imports=['mmseg_uda'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # timeout: seconds a collective waits for the other ranks (torch's NCCL
    # default is 10 minutes). Some steps run on rank 0 alone while the other
    # ranks wait: BDL's class thresholds over every cached target image and
    # the writing of every pseudo-label in a mid-training round
    # (PseudoLabelRoundsHook, tools/gen_pseudo_labels.py), the ranking
    # summary of tools/rank_targets.py. One hour covers them on
    # Cityscapes-sized sets; a rank that really hangs stops the job after
    # that long.
    dist_cfg=dict(backend='nccl', timeout=3600),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
tta_model = dict(type='SegTTAModel')
