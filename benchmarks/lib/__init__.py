"""What ``benchmarks/benchmark.py`` times: our training step against a plain
PyTorch re-statement, and the ranker / pseudo-label generator against the
originals' loops. Not part of the installed package."""
from .inference_benchmark import benchmark_inference
from .peak_memory import MemoryPhase, PeakMemorySampler
from .plain_inputs import UnsupportedModel
from .plain_train_step import build_plain_step
from .train_step_benchmark import benchmark_train_step, prepare_training

__all__ = [
    'benchmark_inference', 'MemoryPhase', 'PeakMemorySampler',
    'UnsupportedModel', 'build_plain_step', 'benchmark_train_step',
    'prepare_training'
]
