"""FVSBN, the fully visible sigmoid belief network: one logistic regression per pixel.

    p(x_i = 1 | x_<i) = sigmoid(b_i + sum_{j<i} W_ij x_j)

(Frey, Hinton & Dayan 1996; Gan et al. 2015). All D conditionals at once are one matrix
product with the strictly lower-triangular part of W: D(D-1)/2 + D parameters in effect.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.models.autoregressive.base import BinaryAutoregressive
from scratchgen.models.base import register
from scratchgen.nn import Parameter


@register("fvsbn", ("binary",), "fully visible sigmoid belief net (logistic per pixel)")
class FVSBN(BinaryAutoregressive):
    def __init__(self, info: DataInfo, **hparams: Any) -> None:
        super().__init__(info, **hparams)
        d = info.dims
        self.W = Parameter(np.zeros((d, d)), dtype=self.dtype)
        self.b = Parameter(np.zeros(d), dtype=self.dtype)
        self.register_buffer("mask", np.tril(np.ones((d, d), dtype=self.dtype), k=-1))  # j < i

    def conditional_logits(self, x: Tensor) -> Tensor:
        return x @ (self.W * self.mask).T + self.b
