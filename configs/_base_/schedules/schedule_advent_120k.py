# ADVENT's optimisation: AdaptSegNet's optimizers (the originals' SGD
# listing for the segmentor, Adam 1e-4 for the discriminators) and poly
# schedule over 250k iterations; ADVENT stops at 120k.
_base_ = ['./schedule_adaptseg_150k.py']  # optimizers, poly, save_best
# ADVENT's EARLY_STOP; its test.py (TEST.MODE 'best') evaluates a snapshot
# every TEST.SNAPSHOT_STEP = 2000 iterations (saved every SAVE_PRED_EVERY =
# 2000) and reports the best (advent/domain_adaptation/config.py)
snapshot_interval = 2000
train_cfg = dict(max_iters=120000, val_interval=snapshot_interval)
default_hooks = dict(checkpoint=dict(interval=snapshot_interval))
