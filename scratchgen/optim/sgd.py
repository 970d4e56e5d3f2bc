"""Stochastic gradient descent with momentum (PyTorch's formulation)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from autodiff import Tensor
from scratchgen.optim.optimizer import Optimizer


class SGD(Optimizer):
    """With g = grad + weight_decay theta and b the momentum buffer (b = g at the first step):

        b <- momentum b + (1 - dampening) g
        theta <- theta - lr (g + momentum b)   (Nesterov)   or   theta - lr b   (classical)

    Nesterov's form is Sutskever et al. (2013), eq. 3-4, rewritten for the gradient at theta.
    """

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False) -> None:  # fmt: skip
        super().__init__(params, lr)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening 0")
        self.momentum, self.dampening = momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov

    def _update(self, theta: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        if self.weight_decay:
            g = g + self.weight_decay * theta
        if self.momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.copy()
            else:
                b = state["momentum_buffer"]
                b *= self.momentum
                b += np.multiply(g, 1 - self.dampening, out=self._scratch(theta))
            b = state["momentum_buffer"]
            g = g + self.momentum * b if self.nesterov else b
        theta -= np.multiply(g, self.lr, out=self._scratch(theta))
