"""scratchgen: the course in deep generative models, built from scratch.

Everything trains on ``autodiff`` (our reverse-mode engine) and ``kernels`` (our Numba loops).

``import scratchgen`` loads none of the subpackages: each is imported the first time it is
named (``scratchgen.data.load(...)``, ``scratchgen.models.create(...)``), through the module's
``__getattr__`` (PEP 562), so a command that needs only the data pays only for the data.
"""

import importlib
from typing import Any

# first, so that its thread settings are in the environment before NumPy loads OpenBLAS
import kernels  # noqa: F401

__version__ = "0.1.0"


def _submodules() -> list[str]:
    """The package's modules and subpackages, as on disk: new families join by being there."""
    import pkgutil  # here, not at the top: only a first use of a subpackage pays for it

    return [info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")]


def __getattr__(name: str) -> Any:
    if name in _submodules():
        # import_module binds the subpackage as an attribute, so this runs once per name
        return importlib.import_module(f"scratchgen.{name}")
    if name == "Trainer":  # scratchgen.Trainer, as DESIGN names it
        return importlib.import_module("scratchgen.train").Trainer
    raise AttributeError(f"module 'scratchgen' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_submodules(), "Trainer"})
