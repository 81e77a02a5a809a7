"""preprocessor_normalization: the mean/std a preprocessor applies, from
its public buffers."""
import pathlib

import torch
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from mmseg_uda.models.data_preprocessors import preprocessor_normalization

PACKAGE = pathlib.Path(__file__).parents[3] / 'mmseg_uda'


def test_mean_and_std_when_normalising_none_otherwise():
    init_default_scope('mmseg')
    pre = MODELS.build(dict(type='UDASegDataPreProcessor',
                            mean=[1.0, 2.0, 3.0], std=[4.0, 5.0, 6.0],
                            bgr_to_rgb=True))
    mean, std = preprocessor_normalization(pre)
    assert mean.tolist() == [1.0, 2.0, 3.0]
    assert std.tolist() == [4.0, 5.0, 6.0]
    plain = MODELS.build(dict(type='UDASegDataPreProcessor'))
    assert preprocessor_normalization(plain) is None
    assert preprocessor_normalization(None) is None
    # what the preprocessor does agrees with what is read
    batch = dict(inputs=[torch.full((3, 2, 2), 7, dtype=torch.uint8)],
                 data_samples=None)
    assert torch.equal(plain(batch)['inputs'][0],
                       torch.full((3, 2, 2), 7.0))


def test_models_read_no_private_preprocessor_flag():
    users = [str(p.relative_to(PACKAGE)) for p in
             (PACKAGE / 'models').rglob('*.py')
             if '_enable_normalize' in p.read_text()]
    assert users == []
