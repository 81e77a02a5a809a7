"""Short default output: converters' --help without the heavy imports,
mmseg's align_corners hint hidden by the tools, and a reason said when
pseudo-labels are discarded."""
import os
import os.path as osp
import subprocess
import sys
import warnings

import pytest
import torch
from mmseg.models.utils import resize

from mmseg_uda.datasets.pseudo_label_dir import PseudoLabelDir
from mmseg_uda.utils.quiet_runner import hide_known_warnings
from tests.conftest import mmengine_messages

HELP = '''
import runpy, sys
sys.argv = [sys.argv[1], '--help']
try:
    runpy.run_path(sys.argv[0], run_name='__main__')
except SystemExit:
    pass
print('heavy imports:', sorted(m for m in ('torch', 'mmseg', 'mmseg_uda')
                               if m in sys.modules))
'''


@pytest.mark.parametrize('tool', ['gta', 'synthia'])
def test_converter_help_does_not_load_torch(repo_root, tool):
    env = dict(os.environ, PYTHONPATH=repo_root)
    proc = subprocess.run(
        [sys.executable, '-c', HELP,
         f'tools/dataset_converters/{tool}.py'], cwd=repo_root, env=env,
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert 'usage:' in proc.stdout
    assert 'heavy imports: []' in proc.stdout


def _logged(action):
    with mmengine_messages() as messages:
        action()
    return ' '.join(messages)


def test_discarded_pseudo_labels_say_why(tmp_path):
    out = str(tmp_path)
    first = dict(rule='bdl', quantile=0.5, cap=0.9, model='a.pth size=1')
    PseudoLabelDir(out).start_run(first)
    os.makedirs(osp.join(PseudoLabelDir(out).label_dir(), 'city'))
    second = dict(first, model='b.pth size=2')
    said = _logged(lambda: PseudoLabelDir(out).start_run(second))
    assert 'discarding the labels and cache of an earlier run' in said
    assert "model: 'a.pth size=1' -> 'b.pth size=2'" in said
    assert not osp.isdir(PseudoLabelDir(out).label_dir())

    os.remove(osp.join(out, '.cache', 'run.json'))
    os.makedirs(osp.join(PseudoLabelDir(out).label_dir(), 'city'))
    said = _logged(lambda: PseudoLabelDir(out).start_run(second))
    assert 'discarding labels of unknown origin' in said



def _hints(hide):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        if hide:
            hide_known_warnings()  # restored when the block ends
        for _ in range(2):  # e.g. before and after a checkpoint
            resize(torch.zeros(1, 2, 16, 32), size=(128, 256),
                   mode='bilinear', align_corners=True)
    return [str(w.message) for w in caught
            if 'align_corners' in str(w.message)]


def test_align_corners_hint_is_hidden_by_the_tools():
    assert len(_hints(hide=False)) == 2
    assert _hints(hide=True) == []
