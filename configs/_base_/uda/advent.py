# ADVENT AdvEnt: AdaptSegNet's adversarial step on entropy maps (the
# discriminators see -p * log2(p) / log2(C)), multi-level, vanilla GAN.
# Same discriminators, weights (adv 0.001 main, 0.0002 aux), optimizers
# (originals' SGD listing, Adam 1e-4) and poly schedule over 250k as
# AdaptSegNet; ADVENT stops at 120k. Build the model as adaptseg.py says.
_base_ = ['./adaptseg.py']  # discriminators, optimizers, poly, save_best
uda = dict(type='AdvEntUDASegmentor')
train_cfg = dict(max_iters=120000)  # ADVENT's EARLY_STOP
