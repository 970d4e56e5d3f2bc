"""NICE (Dinh, Krueger & Bengio, "NICE: Non-linear Independent Components Estimation", 2015).

Additive couplings z_2 = x_2 - m(x_1) on the even and odd dimensions in turn (their section
5.1: four couplings, MLP conditioners), each with log |det| = 0, and a last diagonal scaling
z = h exp(s) (section 3.3), which carries the whole log-det: log |det df/dx| = sum_d s_d.
Images are read as vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from scratchgen import bijections as B
from scratchgen.data import DataInfo
from scratchgen.models.base import register
from scratchgen.models.flows.base import FlowModel, on_vectors
from scratchgen.settings import Layers, Size


@register("nice", ("binary", "categorical", "continuous"),
          "NICE: additive couplings and a diagonal scaling")  # fmt: skip
class NICE(FlowModel):
    def __init__(self, info: DataInfo, couplings: Layers = 4,
                 hidden: Sequence[Size] = (128, 128), **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, couplings=couplings, hidden=list(hidden), **hparams)

    def layers(self, shape: tuple[int, ...], context: int, rng: np.random.Generator) -> (
            B.Bijection):  # fmt: skip
        D, h = int(np.prod(shape)), self.hparams
        couplings = [
            B.AdditiveCoupling(B.alternate_mask(D, i % 2),
                               B.MLPConditioner(D, D, h["hidden"], context, rng=rng,
                                                dtype=self.dtype))
            for i in range(h["couplings"])
        ]  # fmt: skip
        return on_vectors(shape, [*couplings, B.ScaleDiagonal((D,), self.dtype)])
