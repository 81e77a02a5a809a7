# ADVENT MinEnt: source CE + entropy of the target predictions (upsampled to
# the input size, align_corners=True), weights 0.001 main, 0.0002 aux; no
# discriminator. Its optimizer (the segmentor's only) and schedule:
# ../schedules/schedule_minent_120k.py. Build the model as adaptseg.py says.
uda = dict(
    type='MinEntUDASegmentor',
    # None: the segmentor's data preprocessor, for paired batches (an explicit
    # None also keeps mmengine's Runner from handing in the top-level one)
    data_preprocessor=None,
    ent_weights=dict(main=0.001, aux=0.0002),
    loss_entropy=dict(type='EntropyLoss'))
