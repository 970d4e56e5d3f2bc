"""Completion by a flow, as a baseline for the diffusion models' posterior samplers: the most
probable completion (MAP) under the flow's exact density, with the observed values fixed,

    x_free* = argmax_{x_free} log p(x_obs, x_free)
            = argmax log p_Z(f(x)) + log |det df/dx|,

found by Adam on the free values. A flow's density is exact, but this is an optimum, not a
sample: every run from the same start ends at the same completion, and on a multimodal
conditional it picks one mode (or lands between two). On discrete data the flow's input is
v = (x + u) / L in the unit cube; the free values are v = sigmoid(w), optimised in w so that
they stay inside the cube (the argmax in v is unchanged), the observed ones sit at their
cells' centres, and the answer is the cell floor(L v).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from scratchgen import optim
from scratchgen.nn.module import Parameter


def map_complete(model: Any, given: Any, mask: Any, rng: np.random.Generator,
                 steps: int = 300, lr: float = 0.05, y: Any = None) -> np.ndarray:  # fmt: skip
    """Completions of ``given`` (n examples, data space) where the bool ``mask`` (True =
    observed, broadcast to the examples' shape) is false, by ``steps`` of Adam at ``lr`` on
    log p from a draw of the flow's own samples; returns them in data space."""
    given = np.asarray(given, np.float64)
    n, shape = len(given), model.info.shape
    observed = np.broadcast_to(np.asarray(mask, bool), shape)
    start = model.sample(n, rng, y=y) if model.conditional else model.sample(n, rng)
    levels = model.levels if model.discrete else None
    if levels is None:
        fixed, free = given, np.asarray(start, np.float64)
    else:  # cells' centres for the observed values; the start's cells, inverted through sigmoid
        fixed = (given + 0.5) / levels
        inner = np.clip((start + 0.5) / levels, 1e-4, 1 - 1e-4)
        free = np.log(inner) - np.log1p(-inner)
    w = Parameter(free.astype(model.dtype))
    optimizer = optim.Adam([w], lr)
    keep = ad.Tensor(observed.astype(model.dtype))
    context = model._context(y, n)
    for _ in range(steps):
        with ad.enable_grad():
            v_free = w if levels is None else ad.sigmoid(w)
            v = keep * ad.Tensor(fixed.astype(model.dtype)) + (1 - keep) * v_free
            z, log_det = model.flow(v, context)
            objective = -ad.mean(model.base.log_prob(z) + log_det)
            (w.grad,) = ad.grad(objective, [w])
        optimizer.step()
    final = w.data.astype(np.float64)
    if levels is not None:  # back through the sigmoid, to the cell
        final = np.clip(np.floor(levels / (1 + np.exp(-final))), 0, levels - 1)
    return np.where(observed, given, final).astype(model.dtype)
