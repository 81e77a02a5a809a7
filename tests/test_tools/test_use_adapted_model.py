"""After training: test the adapted segmentor with a plain config, use it
through mmseg's API, export it, and resume a copied work dir safely."""
import glob
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from tests.test_tools.test_kill_resume import _options as demo_options
from tools.demo.demo_dataset import generate_demo_dataset

UDA_CONFIG = 'configs/demo/deeplabv2_r18_tiny_adaptseg_demo.py'
PLAIN_CONFIG = 'configs/demo/deeplabv2_r18_tiny_source_only_demo.py'


def run_tool(repo_root, *args, ok=True):
    env = dict(os.environ, PYTHONPATH=repo_root)
    proc = subprocess.run([sys.executable, *args], cwd=repo_root, env=env,
                          capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert (proc.returncode == 0) == ok, out[-5000:]
    return out


def _test_options(data):
    opts = []
    for key in ('num_workers=0', 'persistent_workers=False',
                f'dataset.data_root={data}/target'):
        opts.append(f'test_dataloader.{key}')
    return opts


def plain_checkpoint(repo_root, path):
    """A source-only (plain segmentor) checkpoint of the demo model."""
    cfg = Config.fromfile(osp.join(repo_root, PLAIN_CONFIG))
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)


@pytest.fixture(scope='module')
def trained(repo_root, tmp_path_factory):
    """AdaptSegNet demo run warm-started from a plain checkpoint: 2
    iterations, a checkpoint after each."""
    root = str(tmp_path_factory.mktemp('adapted'))
    data = osp.join(root, 'data')
    generate_demo_dataset(data, num_source_train=4, num_source_val=1,
                          num_target_train=4, num_target_val=2,
                          size=(32, 64))
    warm = osp.join(root, 'source_only.pth')
    plain_checkpoint(repo_root, warm)
    work = osp.join(root, 'work')
    options = demo_options(data) + [
        'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=2', f'load_from={warm}']
    out = run_tool(repo_root, 'tools/train.py', UDA_CONFIG, '--work-dir',
                   work, '--cfg-options', *options)
    return dict(root=root, data=data, work=work, out=out, options=options)


@pytest.mark.slow
def test_warm_start_log_is_short_and_says_what_happened(trained):
    out = trained['out']
    # a plain checkpoint into a UDA model: said in one line, not an error
    assert 'discriminators start from scratch' in out
    assert 'missing keys in source state_dict' not in out
    # no config dump, environment, hook table or per-parameter lines
    assert 'Config:' not in out and 'paramwise_options' not in out
    assert 'System environment' not in out
    # mmseg's align_corners hint does not apply to the originals' protocol
    assert 'would more aligned' not in out
    assert len(out.splitlines()) < 120, len(out.splitlines())


def _miou(out):
    found = re.findall(r'mIoU: (\d+\.\d+)', out)
    assert found, out[-3000:]
    return float(found[-1])


@pytest.mark.slow
def test_plain_config_tests_the_adapted_segmentor(repo_root, trained):
    ckpt = osp.join(trained['work'], 'iter_2.pth')
    opts = _test_options(trained['data'])
    uda = run_tool(repo_root, 'tools/test.py', UDA_CONFIG, ckpt,
                   '--work-dir', osp.join(trained['root'], 't1'),
                   '--cfg-options', *opts)
    plain = run_tool(repo_root, 'tools/test.py', PLAIN_CONFIG, ckpt,
                     '--work-dir', osp.join(trained['root'], 't2'),
                     '--cfg-options', *opts)
    assert "loading its `segmentor.*` weights" in plain
    assert 'unexpected key' not in plain
    assert _miou(plain) == _miou(uda)


def _predict(config, checkpoint, image):
    from mmseg.apis import inference_model, init_model
    model = init_model(config, checkpoint, device='cpu')
    result = inference_model(model, image)
    return model, result.seg_logits.data


@pytest.mark.slow
def test_init_model_inference_model_and_export(repo_root, trained):
    ckpt = osp.join(trained['work'], 'iter_2.pth')
    image = sorted(glob.glob(osp.join(
        trained['data'], 'target', 'leftImg8bit', 'val', '*', '*.png')))[0]
    uda_cfg, plain_cfg = (osp.join(repo_root, c)
                          for c in (UDA_CONFIG, PLAIN_CONFIG))
    # mmseg's own API on our UDA config and training checkpoint
    model, logits = _predict(uda_cfg, ckpt, image)
    assert type(model).__name__ == 'AdversarialUDASegmentor'
    assert model.dataset_meta['classes'][0] == 'road'
    state = torch.load(ckpt, map_location='cpu', weights_only=False)
    for key, value in state['state_dict'].items():
        torch.testing.assert_close(model.state_dict()[key], value, msg=key)
    # the plain config with the same checkpoint: the same segmentor
    _, plain_logits = _predict(plain_cfg, ckpt, image)
    torch.testing.assert_close(plain_logits, logits)

    out, out_cfg = (osp.join(trained['root'], n)
                    for n in ('segmentor.pth', 'segmentor_config.py'))
    run_tool(repo_root, 'tools/model_converters/export_segmentor.py',
             UDA_CONFIG, ckpt, out, '--out-config', out_cfg)
    # a stock install: torch's default weights_only=True, no mmseg_uda
    keys = run_tool(repo_root, '-c', (
        'import sys, torch; c = torch.load(sys.argv[1]); '
        "assert 'mmseg_uda' not in sys.modules; "
        "print(sorted(c), c['meta']['dataset_meta']['classes'][0])"), out)
    assert "['meta', 'state_dict'] road" in keys
    exported = torch.load(out, weights_only=True)['state_dict']
    assert not any(k.startswith(('segmentor.', 'discriminators.'))
                   for k in exported)
    for config in (plain_cfg, out_cfg):
        _, exported_logits = _predict(config, out, image)
        torch.testing.assert_close(exported_logits, logits)


@pytest.mark.slow
def test_resume_stays_in_its_work_dir_and_keeps_older_files(
        repo_root, trained):
    original = trained['work']
    copy = osp.join(trained['root'], 'copy')
    shutil.copytree(original, copy)
    os.remove(osp.join(copy, 'iter_2.pth'))  # its newest checkpoint
    with open(osp.join(copy, 'last_checkpoint')) as f:
        assert f.read().strip() == osp.join(original, 'iter_2.pth')
    options = trained['options'] + [
        'train_cfg.max_iters=3', 'train_cfg.val_interval=3',
        'default_hooks.checkpoint.max_keep_ckpts=1']
    out = run_tool(repo_root, 'tools/train.py', UDA_CONFIG, '--work-dir',
                   copy, '--resume', '--cfg-options', *options)
    assert 'outside the work dir' in out
    # resumed from the copy's own checkpoint, not the original's
    assert 'resumed epoch: 0, iter: 1' in out, out[-3000:]
    assert 'Iter(train) [2/3]' in out and 'Iter(train) [3/3]' in out
    # the file from before the resume stays; the run rotates its own
    assert osp.isfile(osp.join(copy, 'iter_1.pth'))
    assert not osp.exists(osp.join(copy, 'iter_2.pth'))
    assert osp.isfile(osp.join(copy, 'iter_3.pth'))
    for name in ('iter_1.pth', 'iter_2.pth'):
        assert osp.isfile(osp.join(original, name))
