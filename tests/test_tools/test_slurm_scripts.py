"""tools/slurm_{train,test}.sh: mmseg's srun command lines."""
import os
import os.path as osp
import stat
import subprocess


def run_script(repo_root, tmp_path, script, args, **env):
    """Run ``script`` with an ``srun`` that records its arguments (one per
    line) and the PYTHONPATH it was given."""
    record = osp.join(tmp_path, 'srun.txt')
    srun = osp.join(tmp_path, 'srun')
    with open(srun, 'w') as f:
        f.write(f'#!/bin/sh\necho "PYTHONPATH=$PYTHONPATH" > {record}\n'
                f'for a in "$@"; do echo "$a" >> {record}; done\n')
    os.chmod(srun, os.stat(srun).st_mode | stat.S_IEXEC)
    full_env = dict(os.environ, PATH=f'{tmp_path}{os.pathsep}'
                    f"{os.environ['PATH']}", **env)
    proc = subprocess.run(['bash', osp.join(repo_root, 'tools', script),
                           *args], capture_output=True, text=True,
                          env=full_env, cwd=str(tmp_path), timeout=60)
    assert proc.returncode == 0, proc.stderr
    with open(record) as f:
        lines = f.read().splitlines()
    return lines[0], lines[1:]


def test_slurm_train_runs_train_py_with_the_slurm_launcher(repo_root,
                                                            tmp_path):
    pythonpath, argv = run_script(
        repo_root, tmp_path, 'slurm_train.sh',
        ['gpu', 'adaptseg', 'configs/a b.py', '--work-dir', 'w', '--resume'],
        GPUS='16', GPUS_PER_NODE='8', SRUN_ARGS='--quotatype=auto --x=1')
    assert argv == [
        '-p', 'gpu', '--job-name=adaptseg', '--gres=gpu:8', '--ntasks=16',
        '--ntasks-per-node=8', '--cpus-per-task=5', '--kill-on-bad-exit=1',
        '--quotatype=auto', '--x=1', 'python', '-u',
        osp.join(repo_root, 'tools', 'train.py'), 'configs/a b.py',
        '--launcher', 'slurm', '--work-dir', 'w', '--resume']
    assert pythonpath.startswith(f'PYTHONPATH={repo_root}/tools/..')


def test_slurm_test_runs_test_py_with_the_slurm_launcher(repo_root,
                                                          tmp_path):
    _, argv = run_script(repo_root, tmp_path, 'slurm_test.sh',
                         ['gpu', 'eval', 'cfg.py', 'ckpt.pth', '--out', 'o'])
    assert argv == [
        '-p', 'gpu', '--job-name=eval', '--gres=gpu:4', '--ntasks=4',
        '--ntasks-per-node=4', '--cpus-per-task=5', '--kill-on-bad-exit=1',
        'python', '-u', osp.join(repo_root, 'tools', 'test.py'), 'cfg.py',
        'ckpt.pth', '--launcher', 'slurm', '--out', 'o']
