"""scratchgen: the course in deep generative models, built from scratch.

Everything trains on ``autodiff`` (our reverse-mode engine) and ``kernels`` (our Numba loops).
"""

__version__ = "0.1.0"
