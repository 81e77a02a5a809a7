# DAFormer's optimisation (lhoyer/MIC seg/configs/_base_/schedules/
# {adamw,poly10warm}.py and experiments.py): DACS's AdamW 6e-5 with heads at
# 10x, linear warm-up over 1500 iterations then poly 1.0 over 40k, the EMA
# teacher at 0.999 (./schedule_dacs_40k.py), no weight decay on the MiT
# encoder's norms and positional blocks, evaluation every 4k. DAFormer
# reports the final student and writes only that checkpoint
# (checkpoint_config interval=iters, max_keep_ckpts=1). Here a checkpoint is
# also written at every evaluation, so that a killed job can resume; the last
# two are kept, the final one among them, and none is picked by its score.
_base_ = ['./schedule_dacs_40k.py']  # AdamW, warm-up + poly, EMA, 40k
optim_wrapper = dict(
    segmentor=dict(
        paramwise_cfg=dict(
            custom_keys=dict(
                head=dict(lr_mult=10.0),
                pos_block=dict(decay_mult=0.0),
                norm=dict(decay_mult=0.0)))))
default_hooks = dict(
    checkpoint=dict(interval=4000, max_keep_ckpts=2, save_best=None))
