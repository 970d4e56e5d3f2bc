"""The Parzen-window estimate of log-likelihood from samples, and why it misleads.

Given m samples s_j of a model, a Gaussian kernel density estimate with bandwidth sigma,

    log p_hat(x) = log (1/m) sum_j N(x ; s_j, sigma^2 I)
                 = logsumexp_j(-||x - s_j||^2 / (2 sigma^2)) - log m - (D/2) log(2 pi sigma^2),

was once used to score models without a likelihood (GANs), with sigma chosen on a validation
split. Theis, van den Oord & Bethge ("A note on the evaluation of generative models", 2016,
section 3.2) show that it misleads: in more than a few dimensions the estimate stays far from
the true log-likelihood even with millions of samples, and it can rank models in the wrong
order (a model that reproduces its training data, or a k-means of it, scores well). It is here
to be measured and criticised, not trusted; prefer an exact or a bounded likelihood.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial.distance import cdist
from scipy.special import logsumexp

CHUNK = 512  # rows of x per distance matrix: memory m * CHUNK, not m * n


def _flat(x: ArrayLike, name: str) -> np.ndarray:
    x = np.asarray(x, np.float64)
    x = x.reshape(len(x), -1) if x.ndim > 1 else x[:, None]
    if len(x) < 1 or not np.all(np.isfinite(x)):
        raise ValueError(f"parzen: {name} must be finite examples, got shape {x.shape}")
    return x


def parzen_log_likelihood(samples: ArrayLike, x: ArrayLike, bandwidth: float) -> np.ndarray:
    """log p_hat(x) per example (n,), nats, of the kernel density estimate on ``samples``."""
    samples, x = _flat(samples, "samples"), _flat(x, "x")
    if samples.shape[1] != x.shape[1]:
        raise ValueError(f"parzen: samples have {samples.shape[1]} dimensions, x {x.shape[1]}")
    if not bandwidth > 0:
        raise ValueError(f"parzen: bandwidth must be positive, got {bandwidth}")
    m, D = samples.shape
    constant = math.log(m) + 0.5 * D * math.log(2 * math.pi * bandwidth**2)
    out = np.empty(len(x))
    for start in range(0, len(x), CHUNK):
        d2 = cdist(x[start : start + CHUNK], samples, "sqeuclidean")
        out[start : start + CHUNK] = logsumexp(-d2 / (2 * bandwidth**2), axis=1) - constant
    return out


def select_parzen_bandwidth(samples: ArrayLike, validation: ArrayLike,
                            bandwidths: ArrayLike | None = None) -> float:  # fmt: skip
    """The bandwidth (from ``bandwidths``, default 40 values from 0.01 to 10 evenly in log)
    with the highest mean log p_hat on the validation examples."""
    grid = np.logspace(-2, 1, 40) if bandwidths is None else np.asarray(bandwidths, np.float64)
    scores = [parzen_log_likelihood(samples, validation, h).mean() for h in grid]
    return float(grid[int(np.argmax(scores))])
