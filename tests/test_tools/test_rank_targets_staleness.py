"""tools/rank_targets.py with another checkpoint in the same ranking
directory scores every image again with it."""
import os.path as osp

import pytest
import torch

from tests.reference.tiny_layouts import make_cityscapes
from tests.test_tools.test_rank_targets import rank, tiny_model


def _scores(rank_dir):
    with open(osp.join(rank_dir, 'scores.csv')) as f:
        return f.read()


@pytest.mark.slow
def test_another_checkpoint_is_not_served_stale_scores(repo_root, tmp_path):
    tmp = str(tmp_path)
    cs = osp.join(tmp, 'cityscapes')
    make_cityscapes(cs, split='train', num=4, seed=3)
    first, second = (osp.join(tmp, n) for n in ('a.pth', 'b.pth'))
    tiny_model(repo_root, first)
    state = torch.load(first, weights_only=False)
    for key, value in state['state_dict'].items():
        if key.startswith('segmentor.decode_head.'):
            value.mul_(-1.0)  # another model: other predictions
    torch.save(state, second)

    shared, fresh = (osp.join(tmp, n) for n in ('shared', 'fresh'))
    rank(repo_root, cs, first, shared)
    before = _scores(shared)
    out = rank(repo_root, cs, second, shared)
    assert 'were scored by another checkpoint' in out
    assert '0 already scored with this checkpoint' in out
    rank(repo_root, cs, second, fresh)
    assert _scores(shared) == _scores(fresh) != before
    for name in ('easy_split.txt', 'hard_split.txt'):
        with open(osp.join(shared, name)) as a, \
                open(osp.join(fresh, name)) as b:
            assert a.read() == b.read()
    # the same checkpoint again: nothing recomputed
    out = rank(repo_root, cs, second, shared)
    assert '4 already scored with this checkpoint' in out
