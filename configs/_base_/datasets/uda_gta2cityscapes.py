# GTA5 -> Cityscapes for UDA training: the training loader yields paired
# source/target batches (one GTA5 and one Cityscapes image per item) instead
# of the source-only loader of gta2cityscapes.py.
_base_ = ['./gta2cityscapes.py']  # datasets, pipelines, val/test loaders
train_dataloader = dict(_delete_=True, **_base_.uda_train_dataloader)
