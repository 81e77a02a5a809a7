"""The memory option: activation checkpointing in the backbone
(``backbone.with_cp=True``, mmseg's MiT) changes nothing a training step
computes, here a DACS + MIC step with an HRDA student, drop path on."""
import copy

import numpy as np
import torch
from mmengine.registry import init_default_scope

from mmseg_uda.models.uda.dacs_uda_segmentor import DACSUDASegmentor
from tests.test_models.test_segmentors.test_hrda_encoder_decoder import _cfg
from tests.test_models.test_uda.test_dacs_uda_segmentor import _batch, _optim


def _step(with_cp: bool):
    init_default_scope('mmseg')
    segmentor = _cfg()
    segmentor['backbone'] = dict(copy.deepcopy(segmentor['backbone']),
                                 drop_path_rate=0.1, with_cp=with_cp)
    torch.manual_seed(0)
    model = DACSUDASegmentor(
        segmentor=segmentor,
        data_preprocessor=dict(type='UDASegDataPreProcessor',
                               mean=[0, 0, 0], std=[255, 255, 255],
                               size=(64, 64)),
        mask_consistency=dict(mask_generator=dict(
            type='block', mask_ratio=0.7, mask_block_size=16)))
    model.init_weights()
    model.teacher.load_state_dict(model.segmentor.state_dict())
    torch.manual_seed(1)
    np.random.seed(1)
    log = model.train_step(dict(source=_batch(0, True, (64, 64)),
                                target=_batch(1, False, (64, 64))),
                           _optim(model))
    return log, model.segmentor.state_dict()


def test_checkpointed_step_equals_the_plain_one():
    log, weights = _step(with_cp=False)
    log_cp, weights_cp = _step(with_cp=True)
    assert set(log) == set(log_cp)
    assert {'src.hr.loss_ce', 'mix.hr.loss_ce', 'masked.main.loss_ce'} <= \
        set(log)
    for key in log:
        torch.testing.assert_close(log_cp[key], log[key], rtol=1e-5,
                                   atol=1e-6, msg=key)
    for key in weights:
        torch.testing.assert_close(weights_cp[key], weights[key], rtol=1e-5,
                                   atol=1e-6, msg=key)
