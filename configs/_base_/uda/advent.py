# ADVENT AdvEnt: AdaptSegNet's adversarial step on entropy maps (the
# discriminators see -p * log2(p) / log2(C)), multi-level, vanilla GAN, with
# the same discriminators and weights (adv 0.001 main, 0.0002 aux). Its
# optimizers and schedule: ../schedules/schedule_advent_120k.py. Build the
# model as adaptseg.py says.
_base_ = ['./adaptseg.py']  # discriminators, adversarial weights
uda = dict(type='AdvEntUDASegmentor')
