"""Neural-network building blocks on the autodiff engine.

``scratchgen.nn.functional`` (``F``) binds the Numba kernels as differentiable primitives with
PyTorch's names.
"""

from scratchgen.nn import functional

__all__ = ["functional"]
