"""Adam (Kingma & Ba 2015, Algorithm 1) and AdamW (Loshchilov & Hutter 2019, Algorithm 2)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from autodiff import Tensor
from scratchgen.optim.optimizer import Optimizer


class Adam(Optimizer):
    """With g the gradient (plus weight_decay theta: L2 regularisation, coupled) at step t:

    m <- b1 m + (1 - b1) g          v <- b2 v + (1 - b2) g^2
    m_hat = m / (1 - b1^t)          v_hat = v / (1 - b2^t)
    theta <- theta - lr m_hat / (sqrt(v_hat) + eps)

    computed in place as m += (1 - b1)(g - m), v += (1 - b2)(g^2 - v) and
    theta -= [lr / (1 - b1^t)] m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    """

    decoupled = False

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:  # fmt: skip
        super().__init__(params, lr)
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"{type(self).__name__}: betas must lie in [0, 1), got {betas}")
        self.betas, self.eps, self.weight_decay = tuple(betas), eps, weight_decay

    def _update(self, theta: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        b1, b2 = self.betas
        if self.weight_decay and self.decoupled:
            theta *= 1 - self.lr * self.weight_decay
        elif self.weight_decay:
            g = g + self.weight_decay * theta
        m = state.setdefault("exp_avg", np.zeros_like(theta))
        v = state.setdefault("exp_avg_sq", np.zeros_like(theta))
        work = self._scratch(theta)
        np.subtract(g, m, out=work)
        work *= 1 - b1
        m += work
        np.multiply(g, g, out=work)
        work -= v
        work *= 1 - b2
        v += work
        t = self.steps
        np.sqrt(v, out=work)
        work *= 1 / np.sqrt(1 - b2**t)
        work += self.eps
        np.divide(m, work, out=work)
        work *= self.lr / (1 - b1**t)
        theta -= work


class AdamW(Adam):
    """Adam with decoupled weight decay: theta <- theta (1 - lr weight_decay) before the Adam
    step, so the decay is not rescaled by the adaptive denominator."""

    decoupled = True

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2) -> None:  # fmt: skip
        super().__init__(params, lr, betas, eps, weight_decay)
