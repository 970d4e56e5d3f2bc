"""``clip_grad_norm_``: rescale gradients whose joint norm is too large."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from autodiff import Tensor


def clip_grad_norm_(parameters: Iterable[Tensor], max_norm: float) -> float:
    """If ||g|| = sqrt(sum over parameters of ||g_p||^2) exceeds ``max_norm``, scale every
    gradient by max_norm / ||g|| (in place); return ||g|| before clipping (Pascanu et al. 2013,
    Algorithm 2). A non-finite norm is returned unchanged so the caller can stop."""
    grads = [p.grad for p in parameters if p.grad is not None]
    total = float(np.sqrt(sum(float(np.sum(g.data.astype(np.float64) ** 2)) for g in grads)))
    if np.isfinite(total) and total > max_norm:
        scale = max_norm / (total + 1e-12)
        for g in grads:
            g.data = g.data * np.asarray(scale, dtype=g.dtype)
    return total
