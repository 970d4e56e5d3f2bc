"""The forward processes of discrete diffusion: a continuous-time Markov chain on S states run
independently at every position of a sequence.

Both graphs share one generator (rows: from, columns: to),

    G = 1 pi^T - I,    so that    exp(tau G) = e^{-tau} I + (1 - e^{-tau}) 1 pi^T

(because (1 pi^T)^2 = 1 pi^T; the formula holds for tau < 0 too, which the analytic sampler
uses): at rate one a token is replaced by a draw from pi. The **absorbing** graph adds a mask
token (index V, S = V + 1) and pi = delta_mask; the **uniform** graph keeps S = V and pi
uniform. Lou, Meng & Ermon (2024, "Discrete Diffusion Modeling by Estimating the Ratios of the
Data Distribution", section 3.3) write the uniform generator as 1 1^T - V I, V times ours:
the same process on a clock V times faster.

Time t in [0, 1] runs through the log-linear noise (their section 3.4) sigma_bar(t) =
-log(1 - (1 - eps) t), so that the probability that a token is still its clean self,

    alpha_t = exp(-sigma_bar(t)) = 1 - (1 - eps) t,
    q(x_t | x_0) = alpha_t e_{x_0} + (1 - alpha_t) pi,

falls linearly. The absorbing graph takes eps = 0: x_1 is all mask, and the linear alpha_t is
also the absorbing D3PM's schedule (Austin et al. 2021, "Structured Denoising Diffusion Models
in Discrete State-Spaces", beta_t = 1 / (T - t + 1), appendix A.2.1). The uniform graph keeps
eps > 0, which leaves x_1 a trace of x_0 and the bound a prior term KL(q(x_1 | x_0) || pi).
Between two times s < t the chain moves by exp((sigma_bar_t - sigma_bar_s) G): a token keeps
itself with probability r = alpha_t / alpha_s and is redrawn from pi otherwise.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Array = np.ndarray
GRAPHS = ("absorbing", "uniform")


class Graph:
    """The forward chain over ``vocab`` data tokens (0 .. V-1) of one ``kind``; ``eps`` is
    alpha_1 (None: 0 for absorbing, 1e-3 for uniform)."""

    def __init__(self, kind: Literal["absorbing", "uniform"], vocab: int,
                 eps: float | None = None) -> None:  # fmt: skip
        if kind not in GRAPHS:
            raise ValueError(f"graph must be one of {', '.join(GRAPHS)}, got {kind!r}")
        if vocab < 2:
            raise ValueError(f"a graph needs at least 2 data tokens, got {vocab}")
        self.kind, self.V = kind, int(vocab)
        self.absorbing = kind == "absorbing"
        self.S = self.V + 1 if self.absorbing else self.V
        self.mask = self.V if self.absorbing else None
        self.eps = (0.0 if self.absorbing else 1e-3) if eps is None else float(eps)
        if self.absorbing and self.eps != 0:
            raise ValueError("the absorbing graph ends all mask: its eps is 0")
        if not 0 < self.eps < 1 and not self.absorbing:
            raise ValueError(f"the uniform graph needs 0 < eps < 1, got {self.eps}")
        self.pi = np.zeros(self.S)
        if self.absorbing:
            self.pi[self.mask] = 1.0
        else:
            self.pi[:] = 1.0 / self.V

    def __repr__(self) -> str:
        return f"Graph({self.kind!r}, vocab={self.V}, eps={self.eps})"

    # the noise
    def alpha(self, t: Array | float) -> Array:
        """alpha_t = 1 - (1 - eps) t: the probability that a token has not yet jumped."""
        return 1.0 - (1.0 - self.eps) * np.asarray(t, dtype=np.float64)

    def sigma_bar(self, t: Array | float) -> Array:
        """The integrated rate sigma_bar(t) = -log alpha_t."""
        return -np.log(self.alpha(t))

    def sigma(self, t: Array | float) -> Array:
        """The rate sigma(t) = d sigma_bar / dt = (1 - eps) / alpha_t."""
        return (1.0 - self.eps) / self.alpha(t)

    # the chain
    def generator(self) -> Array:
        """G = 1 pi^T - I, (S, S), rows from and columns to."""
        return np.ones((self.S, 1)) * self.pi[None, :] - np.eye(self.S)

    def transition(self, tau: float) -> Array:
        """exp(tau G) = e^{-tau} I + (1 - e^{-tau}) 1 pi^T: row i is the law after an
        integrated rate tau (any sign) from state i."""
        keep = np.exp(-tau)
        return keep * np.eye(self.S) + (1.0 - keep) * self.pi[None, :]

    def marginal(self, x0: Array, t: Array | float) -> Array:
        """q(x_t | x_0) = alpha_t e_{x_0} + (1 - alpha_t) pi, shape (*x0.shape, S); t is a scalar
        or one time per row of x0."""
        x0 = np.asarray(x0)
        alpha = _per_row(self.alpha(t), x0.ndim)
        return alpha[..., None] * self.one_hot(x0) + (1.0 - alpha[..., None]) * self.pi

    def one_hot(self, x: Array) -> Array:
        return np.eye(self.S)[np.asarray(x)]

    def sample_marginal(self, x0: Array, t: Array | float, rng: np.random.Generator) -> Array:
        """x_t ~ q(x_t | x_0): each token kept with probability alpha_t, else drawn from pi."""
        x0 = np.asarray(x0)
        alpha = _per_row(self.alpha(t), x0.ndim)
        jumped = rng.random(x0.shape) >= alpha
        return np.where(jumped, self.sample_pi(x0.shape, rng), x0)

    def sample_pi(self, shape: tuple, rng: np.random.Generator) -> Array:
        """Draws from pi (all mask for the absorbing graph)."""
        if self.absorbing:
            return np.full(shape, self.mask, dtype=np.int64)
        return rng.integers(0, self.V, size=shape)

    def prior_kl(self, x0: Array) -> Array:
        """sum over positions of KL(q(x_1 | x_0) || pi), per example (n,): 0 when absorbing."""
        x0 = np.asarray(x0)
        if self.absorbing:
            return np.zeros(len(x0))
        q = self.marginal(x0, 1.0)
        return np.sum(q * (np.log(q) - np.log(self.pi)), axis=(1, 2))

    def check_tokens(self, x: Array, owner: str, masks: bool = False) -> Array:
        """x as int64 tokens, refused in one line unless each lies in [0, V) (or is the mask
        when ``masks``)."""
        x = np.asarray(x)
        if x.size and not np.issubdtype(x.dtype, np.integer):
            if not np.all(np.equal(np.mod(x, 1), 0)):
                raise ValueError(f"{owner}: tokens must be integers")
        x = x.astype(np.int64)
        top = self.S if masks else self.V
        if x.size and (x.min() < 0 or x.max() >= top):
            raise ValueError(f"{owner}: tokens must lie in [0, {top}), got {x.min()}..{x.max()}")
        return x


def _per_row(values: Array, ndim: int) -> Array:
    """A scalar, or one value per row, broadcast against an array of ``ndim`` axes."""
    values = np.asarray(values, dtype=np.float64)
    return values.reshape(values.shape + (1,) * (ndim - values.ndim)) if values.ndim else values
