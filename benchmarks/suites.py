"""The benchmark suites, by name: each module has ``measure()`` and ``torch_times(torch)``."""

from benchmarks import conv_attention, engine, flow_steps, gan_steps, model_epochs

SUITES = {"engine": engine, "kernels": conv_attention, "models": model_epochs,
          "flows": flow_steps, "gans": gan_steps}  # fmt: skip
TITLES = {
    "engine": "autodiff engine",
    "kernels": "Numba kernels, float32",
    "models": "whole models: a training epoch, a training step, a sampler's calls",
    "flows": "flows: one training step",
    "gans": "GANs: one training step, both players",
}
