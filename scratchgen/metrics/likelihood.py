"""Likelihood bookkeeping: nats to bits per dimension, and what a continuous density says
about discrete data."""

from __future__ import annotations

import math

import numpy as np


def bits_per_dim(nll_nats: float | np.ndarray, dims: int) -> float | np.ndarray:
    """bpd = NLL / (D log 2): a negative log-likelihood in nats per example, in bits per
    dimension, the unit image-model tables report."""
    if dims < 1:
        raise ValueError(f"bits_per_dim: dims must be at least 1, got {dims}")
    return nll_nats / (dims * math.log(2))


def dequantized_nll(nll_nats: float | np.ndarray, dims: int, levels: int = 256):
    """The discrete NLL bounded by a density p on data dequantised to [0, 1]:

        x in {0, ..., L - 1}^D,  y = (x + u) / L with u ~ U[0, 1)^D,

        -log P(x) <= E_u[-log p(y)] + D log L,

    since P(x) = int over x's cell of p (cell volume L^-D) and Jensen's inequality moves the
    log inside (Theis, van den Oord & Bethge, "A note on the evaluation of generative
    models", 2016, section 3.1). ``nll_nats`` is the density's NLL of the scaled data; the
    result is the bound on the discrete NLL, comparable with a discrete model's."""
    if dims < 1 or levels < 2:
        raise ValueError(f"dequantized_nll: need dims >= 1 and levels >= 2, got {dims}, {levels}")
    return nll_nats + dims * math.log(levels)
