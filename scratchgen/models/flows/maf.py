"""MAF, the masked autoregressive flow (Papamakarios, Pavlakou & Murray, "Masked Autoregressive
Flow for Density Estimation", 2017): ``layers`` MADE-based affine autoregressive layers with
reversals between them (``bijections.autoregressive`` says which way each direction runs).
Scoring is one pass per layer; sampling is D passes per layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from scratchgen import bijections as B
from scratchgen.data import DataInfo
from scratchgen.models.base import register
from scratchgen.models.flows.autoregressive_stack import autoregressive_stack
from scratchgen.models.flows.base import FlowModel
from scratchgen.settings import Layers, Positive, Size


@register("maf", ("binary", "categorical", "continuous"),
          "MAF: affine autoregressive layers (MADE): fast to score, slow to sample")  # fmt: skip
class MAF(FlowModel):
    invert = False  # IAF: the same layers, inverted

    def __init__(self, info: DataInfo, layers: Layers = 5, hidden: Sequence[Size] = (64, 64),
                 bound: Positive = 3.0, **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, layers=layers, hidden=list(hidden), bound=bound, **hparams)

    def layers(self, shape: tuple[int, ...], context: int, rng: np.random.Generator) -> (
            B.Bijection):  # fmt: skip
        h = self.hparams
        return autoregressive_stack(shape, h["layers"], h["hidden"], context,
                                    B.Affine(h["bound"]), rng, self.dtype,
                                    invert=self.invert)  # fmt: skip
