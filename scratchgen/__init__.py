"""scratchgen: the course in deep generative models, built from scratch.

Everything trains on ``autodiff`` (our reverse-mode engine) and ``kernels`` (our Numba loops).
"""

from typing import Any

# first, so that its thread settings are in the environment before NumPy loads OpenBLAS
import kernels  # noqa: F401

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # scratchgen.Trainer, as DESIGN names it, without importing every package on
    # `import scratchgen`
    if name == "Trainer":
        from scratchgen.train import Trainer

        return Trainer
    raise AttributeError(f"module 'scratchgen' has no attribute {name!r}")
