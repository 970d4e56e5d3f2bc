"""Neural-network building blocks on the autodiff engine, with PyTorch's names.

``Module`` and ``Parameter`` (``scratchgen.nn.module``), the layers (``scratchgen.nn.layers``,
all importable from here), initialisations (``scratchgen.nn.init``) and ``functional``
(conventionally ``F``), which binds the Numba kernels as differentiable primitives.
Every layer takes its randomness from an explicit ``rng`` (a ``numpy.random.Generator``).
"""

from scratchgen.nn import functional, init
from scratchgen.nn.layers import *  # noqa: F403 (the layers are the package's public names)
from scratchgen.nn.layers import __all__ as _layers
from scratchgen.nn.module import Module, Parameter

__all__ = ["Module", "Parameter", "functional", "init", *_layers]
