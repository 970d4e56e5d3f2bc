"""RMSprop (Tieleman & Hinton 2012, lecture 6.5), as PyTorch writes it: the optimizer of the
original WGAN (Arjovsky et al. 2017, Algorithm 1), whose authors found momentum-based ones
unstable with a clipped critic."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from autodiff import Tensor
from scratchgen.optim.optimizer import Optimizer


class RMSprop(Optimizer):
    """With g the gradient (plus weight_decay theta):

        v <- alpha v + (1 - alpha) g^2          theta <- theta - lr g / (sqrt(v) + eps)

    v starts at 0, as in PyTorch (so the first step divides by sqrt(1 - alpha) |g|)."""

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:  # fmt: skip
        super().__init__(params, lr)
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"RMSprop: alpha must lie in [0, 1), got {alpha}")
        self.alpha, self.eps, self.weight_decay = alpha, eps, weight_decay

    def _update(self, theta: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        if self.weight_decay:
            g = g + self.weight_decay * theta
        v = state.setdefault("square_avg", np.zeros_like(theta))
        work = self._scratch(theta)
        np.multiply(g, g, out=work)  # v += (1 - alpha)(g^2 - v), in place
        work -= v
        work *= 1 - self.alpha
        v += work
        np.sqrt(v, out=work)
        work += self.eps
        np.divide(g, work, out=work)
        work *= self.lr
        theta -= work
