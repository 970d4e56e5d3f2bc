"""The benchmark suites, by name: each module has ``measure()`` and ``torch_times(torch)``."""

from benchmarks import conv_attention, engine

SUITES = {"engine": engine, "kernels": conv_attention}
TITLES = {"engine": "autodiff engine", "kernels": "Numba kernels, float32"}
