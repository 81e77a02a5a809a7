"""Recipe numbers of the originals, as their code and READMEs set them.

Used only as references in tests; each constant names where it is set.
"""
# wasidennis/AdaptSegNet train_gta2cityscapes_multi.py: SAVE_PRED_EVERY
ADAPTSEGNET_SNAPSHOT_EVERY = 5000
# valeoai/ADVENT advent/domain_adaptation/config.py: TRAIN.SAVE_PRED_EVERY and
# TEST.SNAPSHOT_STEP (TEST.MODE 'best' evaluates every such snapshot up to
# TEST.SNAPSHOT_MAXITER and reports the best); IntraDA trains and tests with
# ADVENT's code (feipan664/IntraDA intrada/intrada.yml: TEST.MODE best)
ADVENT_SNAPSHOT_STEP = 2000
ADVENT_SNAPSHOT_MAXITER = 120000
# liyunsheng13/BDL options/train_options.py: --save-pred-every default
BDL_SAVE_PRED_EVERY = 10000
# liyunsheng13/BDL README.md: BDL.py --num-steps-stop without
# self-supervised learning, and with the pseudo labels
BDL_NO_SSL_STEPS_STOP = 80000
BDL_SSL_STEPS_STOP = 120000
# liyunsheng13/BDL cyclegan/readme.md: the translator's CycleGAN options
BDL_CYCLEGAN = dict(niter=10, niter_decay=10, loadSize=1024, fineSize=452,
                    batchSize=4, lambda_semantic=1, lambda_identity=0.5)
# CycleGAN's default --lr (options/train_options.py)
CYCLEGAN_LR = 0.0002
