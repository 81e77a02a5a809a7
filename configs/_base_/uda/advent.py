# ADVENT AdvEnt: AdaptSegNet's adversarial step on entropy maps (the
# discriminators see -p * log2(p) / log2(C)), multi-level, vanilla GAN.
# Same discriminators, weights (adv 0.001 main, 0.0002 aux), optimizers
# (originals' SGD listing, Adam 1e-4) and poly schedule over 250k as
# AdaptSegNet; ADVENT stops at 120k. Build the model as adaptseg.py says.
_base_ = ['./adaptseg.py']  # discriminators, optimizers, poly, save_best
uda = dict(type='AdvEntUDASegmentor')
# ADVENT's EARLY_STOP; its test.py (TEST.MODE 'best') evaluates a snapshot
# every TEST.SNAPSHOT_STEP = 2000 iterations (saved every SAVE_PRED_EVERY =
# 2000) and reports the best (advent/domain_adaptation/config.py)
snapshot_interval = 2000
train_cfg = dict(max_iters=120000, val_interval=snapshot_interval)
default_hooks = dict(checkpoint=dict(interval=snapshot_interval))
