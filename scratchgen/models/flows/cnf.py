"""The continuous normalising flow as a density model on vectors (``bijections.cnf``: Chen et
al. 2018, FFJORD, Grathwohl et al. 2019): dx/dt = f(x, t) from data at t = 0 to the Gaussian at
t = ``time``, integrated by RK4 in ``solver_steps`` steps, with the trace exact or by Hutchinson's
estimator, and gradients by backpropagation through the solver or by the adjoint method.
``log_prob_adaptive`` evaluates with scipy's adaptive solver instead of the fixed steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

import autodiff as ad
from scratchgen import bijections as B
from scratchgen.data import DataInfo
from scratchgen.models.base import UnsupportedData, register
from scratchgen.models.flows.base import FlowModel
from scratchgen.settings import Layers, Positive, Size


@register("cnf", ("continuous",),
          "continuous flow: neural ODE, exact or Hutchinson trace, adjoint")  # fmt: skip
class CNF(FlowModel):
    def __init__(self, info: DataInfo, hidden: Sequence[Size] = (64, 64), time: Positive = 1.0,
                 solver_steps: Layers = 8, trace: Literal["exact", "hutchinson"] = "exact",
                 noise: Literal["gaussian", "rademacher"] = "rademacher",
                 gradient: Literal["backprop", "adjoint"] = "backprop",
                 **hparams: Any) -> None:  # fmt: skip
        if len(info.shape) != 1:
            raise UnsupportedData(f"cnf models vectors, not examples of shape {info.shape}")
        super().__init__(info, hidden=list(hidden), time=time, solver_steps=solver_steps,
                         trace=trace, noise=noise, gradient=gradient, **hparams)  # fmt: skip

    def layers(self, shape: tuple[int, ...], context: int, rng: np.random.Generator) -> (
            B.Bijection):  # fmt: skip
        if context:
            raise ValueError("cnf: the continuous flow takes no class condition (num_classes=0)")
        h = self.hparams
        dynamics = B.Dynamics(shape[0], h["hidden"], rng=rng, dtype=self.dtype)
        return B.ContinuousFlow(dynamics, h["time"], h["solver_steps"], h["trace"], h["noise"],
                                h["gradient"], rng=self.rng)  # fmt: skip

    def log_prob_adaptive(self, x: Any, rtol: float = 1e-6, atol: float = 1e-6) -> np.ndarray:
        """log p(x) with the exact trace and scipy's adaptive solver (nats, (n,))."""
        z, log_det = self.flow.solve_adaptive(np.asarray(x), rtol=rtol, atol=atol)
        with ad.no_grad():
            return self.base.log_prob(ad.Tensor(z.astype(self.dtype))).data + log_det
