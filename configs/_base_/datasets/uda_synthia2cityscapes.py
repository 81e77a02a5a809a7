# SYNTHIA -> Cityscapes for UDA training: the training loader yields paired
# source/target batches (one SYNTHIA and one Cityscapes image per item)
# instead of the source-only loader of synthia2cityscapes.py.
_base_ = ['./synthia2cityscapes.py']  # datasets, pipelines, mIoU16/13
train_dataloader = dict(_delete_=True, **_base_.uda_train_dataloader)
