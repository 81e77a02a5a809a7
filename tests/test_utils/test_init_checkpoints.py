"""Missing init checkpoints are found in the config and named, with the
config key and, for the project's files, the command that makes them;
tools/train.py stops with that message before it builds anything."""
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from mmseg_uda.utils.init_checkpoints import (MissingCheckpoint,
                                              check_init_checkpoints,
                                              find_missing_init_checkpoints)
from tests.conftest import REPO_ROOT

DAFORMER = osp.join(REPO_ROOT, 'configs/daformer/daformer_mitb5_gta2cs.py')


def _pretrained(path, **kwargs):
    return dict(type='Pretrained', checkpoint=path, **kwargs)


def test_finds_local_missing_files_with_their_keys(tmp_path):
    present = tmp_path / 'present.pth'
    present.write_bytes(b'x')
    model = dict(
        segmentor=dict(
            backbone=dict(init_cfg=_pretrained('checkpoints/absent.pth')),
            decode_head=dict(init_cfg=[
                dict(type='Normal', std=0.01),
                _pretrained(str(present)),
                _pretrained('other/absent.pth', prefix='head.'),
            ]),
            auxiliary_head=[dict(init_cfg=_pretrained('aux.pth'))]),
        # remote files are mmengine's to download
        teacher=dict(init_cfg=_pretrained('https://host/weights.pth')),
        student=dict(init_cfg=_pretrained('open-mmlab://resnet101')),
        head=dict(init_cfg=None))
    missing = find_missing_init_checkpoints(model, root=str(tmp_path))
    assert missing == [
        MissingCheckpoint('model.segmentor.backbone.init_cfg.checkpoint',
                          'checkpoints/absent.pth'),
        MissingCheckpoint(
            'model.segmentor.decode_head.init_cfg[2].checkpoint',
            'other/absent.pth'),
        MissingCheckpoint(
            'model.segmentor.auxiliary_head[0].init_cfg.checkpoint',
            'aux.pth'),
    ]
    # relative paths resolve in root: present there, nothing is missing
    (tmp_path / 'checkpoints').mkdir()
    (tmp_path / 'checkpoints' / 'absent.pth').write_bytes(b'x')
    assert len(find_missing_init_checkpoints(model, root=str(tmp_path))) == 2


def test_message_names_file_key_and_converter(tmp_path):
    cfg = Config.fromfile(DAFORMER)
    with pytest.raises(FileNotFoundError) as info:
        check_init_checkpoints(cfg.model, root=str(tmp_path))
    message = str(info.value)
    assert ('init checkpoint not found: checkpoints/mit_b5_mmseg.pth '
            '(config key model.segmentor.backbone.init_cfg.checkpoint)'
            ) in message
    assert ('python tools/model_converters/mit_b5.py pretrained/mit_b5.pth '
            'checkpoints/mit_b5_mmseg.pth') in message
    assert 'model.segmentor.backbone.init_cfg=None' in message


def test_deeplabv2_init_file_gets_its_converter(tmp_path):
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/selftrain/deeplabv2_r101_dacs_gta2cs.py'))
    with pytest.raises(FileNotFoundError,
                       match='(?s)checkpoints/deeplabv2_r101_init.pth.*'
                       'tools/model_converters/original_deeplabv2.py'):
        check_init_checkpoints(cfg.model, root=str(tmp_path))


def test_unknown_file_is_named_without_a_hint(tmp_path):
    model = dict(backbone=dict(init_cfg=_pretrained('mine/net.pth')))
    with pytest.raises(FileNotFoundError) as info:
        check_init_checkpoints(model, root=str(tmp_path))
    assert 'mine/net.pth (config key model.backbone.init_cfg.checkpoint)' \
        in str(info.value)
    assert 'to make it' not in str(info.value)


def test_present_files_pass(tmp_path):
    (tmp_path / 'checkpoints').mkdir()
    (tmp_path / 'checkpoints' / 'mit_b5_mmseg.pth').write_bytes(b'x')
    cfg = Config.fromfile(DAFORMER)
    check_init_checkpoints(cfg.model, root=str(tmp_path))


@pytest.mark.slow
def test_train_stops_before_building_the_runner(repo_root, tmp_path):
    work_dir = tmp_path / 'work'
    env = dict(os.environ, PYTHONPATH=repo_root)
    proc = subprocess.run(
        [sys.executable, 'tools/train.py',
         'configs/selftrain/segformer_mitb5_dacs_gta2cs.py', '--work-dir',
         str(work_dir), '--cfg-options',
         f'model.segmentor.backbone.init_cfg.checkpoint={tmp_path}/mit.pth'],
        cwd=repo_root, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert (f'init checkpoint not found: {tmp_path}/mit.pth (config key '
            'model.segmentor.backbone.init_cfg.checkpoint)') in proc.stderr
    assert 'Traceback' not in proc.stderr
    # nothing was built: no work dir, no log
    assert not work_dir.exists()
