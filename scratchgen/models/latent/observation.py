"""p(x | z) for each kind of data: the decoder's outputs become a distribution over x.

    binary        Independent Bernoulli(logits = f(z))           1 output per dimension
    categorical   Independent Categorical(logits = f(z))         ``levels`` outputs per dimension
    continuous    Independent Normal(f(z), sigma)                1 output per dimension; sigma
                                                                 a learned scale per dimension

The decoder's output for one example is a flat vector of D K numbers (D data dimensions, K
outputs each), laid out dimension-major: entries d K .. d K + K - 1 belong to dimension d.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen import distributions as D
from scratchgen.data import DataInfo
from scratchgen.nn import Module, Parameter


class Observation(Module):
    """The observation model for data described by ``info``."""

    def __init__(self, info: DataInfo, dtype: Any = np.float32) -> None:
        super().__init__()
        self.info, self.dims = info, info.dims
        self.per_dim = info.levels if info.kind == "categorical" else 1
        if info.kind == "continuous":
            self.log_scale = Parameter(np.zeros(self.dims), dtype=dtype)

    def scaled(self, x: Tensor) -> Tensor:
        """The input an encoder sees: grey levels in [0, 1], other values unchanged."""
        if self.info.kind == "categorical":
            return x / (self.info.levels - 1)
        return x

    def targets(self, x: Tensor) -> Any:
        """(n, *shape) -> (n, D): what ``distribution(...).log_prob`` scores (class indices for
        categorical data)."""
        flat = ad.reshape(x, (x.shape[0], self.dims))
        return flat.data.astype(np.int64) if self.info.kind == "categorical" else flat

    def distribution(self, out: Tensor) -> D.Distribution:
        """p(x | z) from decoder outputs (..., D K); event: the D dimensions."""
        kind = self.info.kind
        if kind == "binary":
            return D.Independent(D.Bernoulli(logits=out), 1)
        if kind == "categorical":
            logits = ad.reshape(out, out.shape[:-1] + (self.dims, self.per_dim))
            return D.Independent(D.Categorical(logits=logits), 1)
        return D.Independent(D.Normal(out, ad.exp(self.log_scale)), 1)

    def mean(self, out: Tensor) -> np.ndarray:
        """E[x | z] per dimension, (..., D): probabilities, expected levels, or means."""
        kind = self.info.kind
        if kind == "binary":
            return ad.sigmoid(out).data
        if kind == "categorical":
            logits = out.data.reshape(out.shape[:-1] + (self.dims, self.per_dim))
            probs = np.exp(logits - logits.max(-1, keepdims=True))
            probs /= probs.sum(-1, keepdims=True)
            return probs @ np.arange(self.per_dim, dtype=probs.dtype)
        return out.data

    def draw(self, out: Tensor, rng: np.random.Generator) -> np.ndarray:
        """x ~ p(x | z), (..., D), in the data's own values."""
        x = self.distribution(out).sample(rng=rng)
        return x.astype(out.dtype)
