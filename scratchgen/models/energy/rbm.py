"""The binary restricted Boltzmann machine (Smolensky 1986; Hinton 2002), visible v in {0,1}^D,
hidden h in {0,1}^H:

    E(v, h) = -b^T v - c^T h - v^T W h,        p(v, h) = exp(-E(v, h)) / Z

Both conditionals factorise, p(h_j = 1 | v) = sigmoid(c_j + v^T W_:j) and
p(v_i = 1 | h) = sigmoid(b_i + W_i: h), so h sums out in closed form into the free energy

    F(v) = -log sum_h exp(-E(v, h)) = -b^T v - sum_j softplus(c_j + v^T W_:j)

and p(v) = exp(-F(v)) / Z. The gradient of the negative log-likelihood is
d/dtheta [F(v_data)] - E_model d/dtheta [F(v)]; training replaces the model's expectation
by Gibbs chains (the contrastive-divergence surrogate of ``objectives``): CD-k runs k steps
from the data (Hinton 2002), persistent CD keeps ``chains`` chains across updates and runs k
steps of each per update (Tieleman 2008, "Training Restricted Boltzmann Machines using
Approximations to the Likelihood Gradient").

Z sums 2^min(D, H) terms: exactly, by enumerating the hidden states when H <= ENUMERABLE
(log Z = log sum_h exp(c^T h + sum_i softplus(b_i + W_i: h))), and otherwise by AIS from a
base-rate RBM (Salakhutdinov & Murray 2008, "On the Quantitative Analysis of Deep Belief
Networks", section 4.1), whose log Z is low in expectation.
"""

from __future__ import annotations

import itertools
import math
from typing import Annotated, Any

import numpy as np
from scipy.special import expit, logsumexp

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.models.base import GenerativeModel, register
from scratchgen.models.energy.objectives import contrastive_divergence
from scratchgen.nn import Parameter
from scratchgen.settings import Positive, Range, Size

ENUMERABLE = 20  # at most 2^20 hidden states are summed for the exact log Z
GibbsSteps = Annotated[int, Range(1, 10**5)]
Chains = Annotated[int, Range(1, 10**6)]


def _softplus(u: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, u)


def _bernoulli(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (rng.random(p.shape) < p).astype(p.dtype)


def ais_schedule(steps: int) -> np.ndarray:
    """Salakhutdinov & Murray's inverse temperatures in their proportions: a fifteenth of the
    steps from 0 to 0.5, four fifteenths to 0.9 and ten fifteenths to 1 (1 000, 4 000 and
    10 000 of their 14 500 steps), steps + 1 values from 0 to 1."""
    cuts = [max(1, round(steps * share)) for share in (1 / 15, 4 / 15)]
    cuts.append(max(1, steps - sum(cuts)))
    parts = [np.linspace(a, b, m, endpoint=False) for (a, b), m in
             zip([(0.0, 0.5), (0.5, 0.9), (0.9, 1.0)], cuts)]  # fmt: skip
    return np.concatenate([*parts, [1.0]])


@register("rbm", ("binary",), "binary restricted Boltzmann machine: CD-k or persistent CD, "
          "exact or AIS log Z")  # fmt: skip
class RBM(GenerativeModel):
    def __init__(self, info: DataInfo, hidden: Size = 500, k: GibbsSteps = 1,
                 persistent: bool = False, chains: Chains = 100, init_scale: Positive = 0.01,
                 ais_steps: GibbsSteps = 10_000, ais_chains: Chains = 100,
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, hidden=hidden, k=k, persistent=persistent, chains=chains,
                         init_scale=init_scale, ais_steps=ais_steps, ais_chains=ais_chains,
                         **hparams)  # fmt: skip
        D = info.dims
        init = np.random.default_rng([self.hparams["seed"], 4])
        self.W = Parameter(init_scale * init.standard_normal((D, hidden)), dtype=self.dtype)
        self.b = Parameter(np.zeros(D), dtype=self.dtype)
        self.c = Parameter(np.zeros(hidden), dtype=self.dtype)
        # AIS's base-rate model: independent visible units with the data's marginals
        self.register_buffer("base_bias", np.zeros(D, dtype=self.dtype))
        self.register_buffer("chains", _bernoulli(np.full((chains, D), 0.5, self.dtype), init))
        self._last: dict[str, float] = {}

    @property
    def log_prob_is_estimate(self) -> bool:
        return self.hparams["hidden"] > ENUMERABLE

    # ------------------------------------------------------------------ energies
    def _flat(self, x: Any) -> np.ndarray:
        x = x.data if isinstance(x, Tensor) else np.asarray(x)
        return x.reshape(len(x), -1).astype(self.dtype)

    def free_energy(self, v: Any) -> Tensor:
        """F(v) = -b^T v - sum_j softplus(c_j + v^T W_:j) per example, (n,)."""
        v = Tensor(self._flat(v))
        return -(v @ self.b) - ad.sum(ad.softplus(v @ self.W + self.c), axis=1)

    def energy(self, x: Any) -> Tensor:
        """The energy of v with h summed out: the free energy F(v)."""
        return self.free_energy(x)

    def joint_energy(self, v: np.ndarray, h: np.ndarray) -> np.ndarray:
        """E(v, h) = -b^T v - c^T h - v^T W h per pair of rows, (n,)."""
        W, b, c = self.W.data, self.b.data, self.c.data
        return -(v @ b) - (h @ c) - np.sum((v @ W) * h, axis=1)

    # ------------------------------------------------------------------ Gibbs sampling
    def hidden_given(self, v: np.ndarray) -> np.ndarray:
        """p(h = 1 | v) = sigmoid(c + v W), (n, H)."""
        return expit(v @ self.W.data + self.c.data)

    def visible_given(self, h: np.ndarray) -> np.ndarray:
        """p(v = 1 | h) = sigmoid(b + h W^T), (n, D)."""
        return expit(h @ self.W.data.T + self.b.data)

    def gibbs(self, v: np.ndarray, steps: int, rng: np.random.Generator) -> np.ndarray:
        """``steps`` block-Gibbs sweeps h ~ p(h | v), v ~ p(v | h)."""
        for _ in range(steps):
            v = _bernoulli(self.visible_given(_bernoulli(self.hidden_given(v), rng)), rng)
        return v

    # ------------------------------------------------------------------ training
    def initialize(self, x_train: np.ndarray, rng: np.random.Generator) -> None:
        """b_i = log(p_i / (1 - p_i)) of the training marginals p_i (Hinton, "A Practical
        Guide to Training RBMs", 2010, section 8.1), smoothed by 0.05 / 1.1 so that no unit
        is fixed; the base-rate model of AIS takes the same; persistent chains start from
        its samples."""
        p = (self._flat(x_train).mean(axis=0) + 0.05) / 1.1
        self.b.data[...] = self.base_bias[...] = np.log(p / (1 - p))
        self.chains[...] = _bernoulli(np.broadcast_to(p, self.chains.shape).copy(), rng)

    def loss(self, x: Any, y: Any = None) -> Tensor:
        """The CD surrogate mean F(v+) - mean F(v-): v- are k Gibbs sweeps from the batch
        (CD-k) or from the persistent chains (PCD, which keep their ends; in evaluation they
        are used as they are)."""
        h, v_pos = self.hparams, self._flat(x)
        if not h["persistent"]:
            v_neg = self.gibbs(v_pos, h["k"], self.rng)
        elif self.training:
            v_neg = self.chains[...] = self.gibbs(self.chains, h["k"], self.rng)
        else:
            v_neg = self.chains
        if self.training:
            reconstruction = self.visible_given(self.hidden_given(v_pos))
            self._last = {"reconstruction_error": float(np.mean((reconstruction - v_pos) ** 2))}
        return contrastive_divergence(self.free_energy(v_pos), self.free_energy(v_neg))

    def diagnostics(self) -> dict[str, float]:
        """The mean squared error of the one-step reconstruction p(v | h ~ p(h | v)) of the
        batch, Hinton's guide's (imperfect) monitor of CD training."""
        return dict(self._last)

    # ------------------------------------------------------------------ the partition function
    def exact_log_partition(self) -> float:
        """log Z = log sum_h exp(c^T h + sum_i softplus(b_i + W_i: h)) over all 2^H hidden
        states, in float64, a block of states at a time."""
        H = self.hparams["hidden"]
        if H > ENUMERABLE:
            raise ValueError(f"rbm: log Z by enumeration sums 2^{H} hidden states; it is offered "
                             f"up to {ENUMERABLE} hidden units (use the AIS estimate)")  # fmt: skip
        W, b, c = (p.data.astype(np.float64) for p in (self.W, self.b, self.c))
        states = np.array(list(itertools.product((0.0, 1.0), repeat=H)))
        terms = [hs @ c + _softplus(hs @ W.T + b).sum(axis=1)
                 for hs in np.array_split(states, max(1, len(states) // 4096))]  # fmt: skip
        return float(logsumexp(np.concatenate(terms)))

    def ais_log_weights(self, rng: np.random.Generator, chains: int | None = None,
                        steps: int | None = None) -> np.ndarray:  # fmt: skip
        """log (Z_A w_i) per chain: each exp is an unbiased estimate of Z (Salakhutdinov &
        Murray 2008, section 4.1). The path is the RBM whose energy is
        (1 - beta) E_A + beta E, E_A(v, h) = -b_A^T v with no weights, so that

            log p*_beta(v) = (1 - beta) b_A^T v + beta b^T v + sum_j softplus(beta (c_j + v^T W_:j))

        log Z_A = sum_i softplus(b_A,i) + H log 2, and the transition at beta is Gibbs on it:
        h ~ sigmoid(beta (c + v W)), v ~ sigmoid((1 - beta) b_A + beta (b + h W^T)). The
        log-weight adds log p*_beta_k(v) - log p*_beta_k-1(v) before each transition."""
        h = self.hparams
        chains, steps = chains or h["ais_chains"], steps or h["ais_steps"]
        b_A = np.asarray(self.base_bias, np.float64)
        betas = ais_schedule(steps)
        v = _bernoulli(np.broadcast_to(expit(b_A), (chains, len(b_A))).copy(), rng)
        log_w = _softplus(b_A).sum() + self.hparams["hidden"] * math.log(2) + np.zeros(chains)
        for previous, beta in zip(betas[:-1], betas[1:]):
            log_w += self.log_tempered(v, beta) - self.log_tempered(v, previous)
            v = self.tempered_gibbs(v, beta, rng)
        return log_w

    def _float64(self) -> tuple[np.ndarray, ...]:
        return tuple(np.asarray(a, np.float64) for a in
                     (self.W.data, self.b.data, self.c.data, self.base_bias))  # fmt: skip

    def log_tempered(self, v: np.ndarray, beta: float) -> np.ndarray:
        """log p*_beta(v) of AIS's path (``ais_log_weights``), (n,)."""
        W, b, c, b_A = self._float64()
        return v @ ((1 - beta) * b_A + beta * b) + _softplus(beta * (v @ W + c)).sum(axis=1)

    def tempered_gibbs(self, v: np.ndarray, beta: float, rng: np.random.Generator) -> np.ndarray:
        """One Gibbs sweep that leaves p_beta invariant (``ais_log_weights``)."""
        W, b, c, b_A = self._float64()
        hidden = _bernoulli(expit(beta * (v @ W + c)), rng)
        return _bernoulli(expit((1 - beta) * b_A + beta * (b + hidden @ W.T)), rng)

    def log_partition(self, rng: np.random.Generator | None = None) -> float:
        """log Z: exact up to ENUMERABLE hidden units, else AIS's log mean weight."""
        if self.hparams["hidden"] <= ENUMERABLE:
            return self.exact_log_partition()
        log_w = self.ais_log_weights(rng or self.rng)
        return float(logsumexp(log_w) - math.log(len(log_w)))

    def log_prob(self, x: Any, y: Any = None, log_z: float | None = None) -> Tensor:
        """log p(v) = -F(v) - log Z per example, with log Z from ``log_partition`` unless
        given (an AIS estimate past ENUMERABLE hidden units: ``log_prob_is_estimate``)."""
        return -self.free_energy(x) - (self.log_partition() if log_z is None else log_z)

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, rng: np.random.Generator, steps: int = 1000,
               from_chains: bool = False) -> np.ndarray:  # fmt: skip
        """n samples of v after ``steps`` Gibbs sweeps from the base-rate model's draws, or
        (``from_chains``) n of the persistent chains as they are, in the data's shape."""
        if from_chains:
            if n > len(self.chains):
                raise ValueError(f"rbm: {n} samples from {len(self.chains)} persistent chains; "
                                 "raise chains or sample fresh ones")  # fmt: skip
            v = self.chains[:n]
        else:
            p = np.broadcast_to(expit(self.base_bias), (n, self.info.dims)).copy()
            v = self.gibbs(_bernoulli(p, rng), steps, rng)
        return v.reshape(n, *self.info.shape).astype(np.int64)
