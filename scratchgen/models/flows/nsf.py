"""Neural spline flows (Durkan, Bekasov, Murray & Papamakarios, "Neural Spline Flows", 2019):
rational-quadratic splines with ``bins`` bins on [-tail_bound, tail_bound] and linear tails,
in coupling form (RQ-NSF (C): spline couplings with alternating half masks, each followed by a
reversal) or in autoregressive form (RQ-NSF (AR): MADE conditioners, as in MAF).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from scratchgen import bijections as B
from scratchgen.data import DataInfo
from scratchgen.models.base import register
from scratchgen.models.flows.autoregressive_stack import autoregressive_stack
from scratchgen.models.flows.base import FlowModel, on_vectors
from scratchgen.settings import Layers, Positive, Size


@register("nsf", ("binary", "categorical", "continuous"),
          "neural spline flow: rational-quadratic splines, coupling or autoregressive")  # fmt: skip
class NSF(FlowModel):
    def __init__(self, info: DataInfo, kind: Literal["coupling", "autoregressive"] = "coupling",
                 layers: Layers = 4, hidden: Sequence[Size] = (64, 64), bins: Size = 8,
                 tail_bound: Positive = 3.0, **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, kind=kind, layers=layers, hidden=list(hidden), bins=bins,
                         tail_bound=tail_bound, **hparams)  # fmt: skip

    def layers(self, shape: tuple[int, ...], context: int, rng: np.random.Generator) -> (
            B.Bijection):  # fmt: skip
        h = self.hparams
        spline = B.RationalQuadratic(h["bins"], h["tail_bound"])
        if h["kind"] == "autoregressive":
            return autoregressive_stack(shape, h["layers"], h["hidden"], context, spline, rng,
                                        self.dtype)  # fmt: skip
        D = int(np.prod(shape))
        out: list[B.Bijection] = []
        for i in range(h["layers"]):
            net = B.MLPConditioner(D, spline.params * D, h["hidden"], context, rng=rng,
                                   dtype=self.dtype)  # fmt: skip
            out += [B.Coupling(B.half_mask(D, i % 2), net, spline), B.Reverse(D)]
        return on_vectors(shape, out)
