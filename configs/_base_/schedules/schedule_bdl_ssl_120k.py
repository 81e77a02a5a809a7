# BDL's segmentor optimisation: AdaptSegNet's optimizers and 250k poly
# schedule, the SSL run stopped at 120k (README; the runs without
# pseudo-labels stop at 80k: tools/bdl_rounds.py --no-ssl-iters). BDL.py
# saves a snapshot every --save-pred-every = 10000 iterations
# (options/train_options.py): validate and checkpoint at that.
_base_ = ['./schedule_adaptseg_150k.py']  # optimizers, poly, save_best
snapshot_interval = 10000
train_cfg = dict(max_iters=120000, val_interval=snapshot_interval)
default_hooks = dict(checkpoint=dict(interval=snapshot_interval))
