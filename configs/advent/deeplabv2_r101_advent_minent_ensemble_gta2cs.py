# ADVENT AdvEnt + MinEnt ensemble, test only. ADVENT's 45.5 mIoU GTA5 ->
# Cityscapes (advent+minent_pretrained.yml) averages gta2cityscapes_advent.pth
# with gta2cityscapes_minent_ER.pth, the MinEnt + ER model; a member trained
# with deeplabv2_r101_minent_gta2cs.py is plain MinEnt (42.3), not that one.
#   python tools/test.py THIS_CONFIG   (no CHECKPOINT argument)
# Each member loads its own checkpoint (plain or UDA); set the paths below
# or override them with --cfg-options model.members.0.checkpoint=PATH.
advent_config = '{{ fileDirname }}/deeplabv2_r101_advent_gta2cs.py'
advent_checkpoint = 'checkpoints/advent_gta2cs.pth'
minent_config = '{{ fileDirname }}/deeplabv2_r101_minent_gta2cs.py'
minent_checkpoint = 'checkpoints/minent_gta2cs.pth'
_base_ = [
    '../_base_/models/deeplabv2_r101.py',  # data preprocessor
    '../_base_/datasets/gta2cityscapes.py',  # Cityscapes val, IoUMetric
    '../_base_/default_runtime.py',  # custom_imports, logging, visualiser
    '../_base_/schedules/schedule_250k_poly.py',  # test loop and hooks
]
# ADVENT's eval_single sums MODEL_WEIGHT (0.5, 0.5) times each model's raw
# logits upsampled to 2048x1024 (no softmax) before the argmax.
model = dict(
    _delete_=True,
    type='EnsembleSegmentor',
    members=[
        dict(config=advent_config, checkpoint=advent_checkpoint),
        dict(config=minent_config, checkpoint=minent_checkpoint),
    ],
    weights=[0.5, 0.5],
    fuse='logits',
    data_preprocessor=_base_.data_preprocessor)
# testing only: no training loader, loop, optimizer or schedule
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
