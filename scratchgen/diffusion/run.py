"""What every diffusion sampler shares: it calls a plain function of ndarrays, checks what comes
back, counts the calls (the number of function evaluations, NFE, that few-step samplers are
compared by), keeps the states when a trajectory is asked for, and returns x, then the
trajectory (steps + 1 states, the start included), then the NFE, as asked. A function may
return one array or a tuple of them (a mean's and a variance's parameters), each of the
chains' shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Array = np.ndarray


def start(shape: Any, rng: np.random.Generator, name: str, scale: float = 1.0,
          x_T: Array | None = None) -> Array:  # fmt: skip
    """The chains' start: x_T if given, else scale * N(0, I) of ``shape``, in float64."""
    if x_T is not None:
        x = np.array(x_T, dtype=np.float64)
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{name}: x_T must be finite")
        return x
    shape = tuple(int(s) for s in np.atleast_1d(shape))
    if len(shape) < 2 or min(shape) < 1:
        raise ValueError(f"{name}: shape must be (n, D) or (n, C, H, W), got {shape}")
    return scale * rng.standard_normal(shape)


class Run:
    """A sampler's calls of ``fn(x, t)`` and, when asked, its states."""

    def __init__(self, fn: Callable[[Array, Array], Array], x: Array, name: str,
                 trajectory: bool) -> None:  # fmt: skip
        self.fn, self.name, self.nfe = fn, name, 0
        self.states = [x.copy()] if trajectory else None

    def __call__(self, x: Array, t: Array) -> Any:
        self.nfe += 1
        out = self.fn(x, t)
        parts = tuple(np.asarray(part, dtype=np.float64)
                      for part in (out if isinstance(out, tuple) else (out,)))  # fmt: skip
        for part in parts:
            if part.shape != x.shape:
                raise ValueError(f"{self.name}: the function must return the chains' shape "
                                 f"{x.shape}, got {part.shape}")  # fmt: skip
        return parts if isinstance(out, tuple) else parts[0]

    def keep(self, x: Array) -> None:
        if self.states is not None:
            self.states.append(x.copy())

    def result(self, x: Array, return_trajectory: bool, return_nfe: bool) -> Any:
        out: list[Any] = [x]
        if return_trajectory:
            out.append(np.stack(self.states))
        if return_nfe:
            out.append(self.nfe)
        return out[0] if len(out) == 1 else tuple(out)
