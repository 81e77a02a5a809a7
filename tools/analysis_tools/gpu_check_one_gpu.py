"""Run a tool as one of several torchrun ranks that share one GPU.

``python -m torch.distributed.run --nproc_per_node 2 gpu_check_one_gpu.py
TOOL ARGS...`` runs ``TOOL ARGS...`` in every rank with ``LOCAL_RANK=0``:
mmengine selects the GPU ``LOCAL_RANK`` (``torch.cuda.set_device``) and
hands it to DDP as ``device_ids``, which fails for rank 1 on a machine with
one GPU. The rank (``RANK``) and world size are untouched. NCCL refuses two
ranks on one device, so the check runs these jobs with the gloo backend
(``env_cfg.dist_cfg.backend=gloo``), which reduces CUDA tensors too.
"""
import os
import runpy
import sys


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit('usage: gpu_check_one_gpu.py TOOL [ARGS...]')
    os.environ['LOCAL_RANK'] = '0'
    tool = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(tool)))
    runpy.run_path(tool, run_name='__main__')


if __name__ == '__main__':
    main()
