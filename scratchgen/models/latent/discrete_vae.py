"""A VAE with discrete latents: G categorical variables of K categories each.

    p(z) = prod_g Cat(z_g; 1/K)        q(z | x) = prod_g Cat(z_g; softmax(e_g(x)))
    p(x | z) = the decoder applied to the G one-hot vectors of z, concatenated (G K numbers)

    ELBO(x) = E_q[log p(x | z)] - KL(q(z | x) || p(z)),   KL = sum_g sum_k q_gk log(K q_gk)

The KL term is exact; the reconstruction term's gradient with respect to the encoder needs an
estimator, because z cannot be written as a differentiable function of the encoder's output
and independent noise (see ``scratchgen.estimators``). ``estimator`` chooses it:

- ``"reinforce"``: the score function with f = log p(x | z) over ``samples`` draws,
      grad_phi ~ 1/S sum_s (f(z_s) - b_s) grad_phi log q(z_s | x)      (Williams 1992)
  and ``baseline``: "none"; "leave_one_out" (b_s = the mean of the other draws' f, S >= 2);
  or "nvil" (Mnih & Gregor, "Neural Variational Inference and Learning in Belief Networks",
  2014, section 3): b = c + b_psi(x), a running mean c of f plus a small network b_psi trained
  to regress f - c by least squares, and the centred signal divided by a running estimate of
  its standard deviation when that exceeds 1 ("variance normalisation").
- ``"gumbel"``: the decoder sees the relaxed one-hot y = softmax((log q + G) / tau) and the
  gradient is pathwise (Jang, Gu & Poole, "Categorical Reparameterization with
  Gumbel-Softmax", 2017; Maddison et al. 2017, the Concrete distribution); tau is annealed
  as tau_t = max(tau_min, tau_0 exp(-r t)) (Jang et al., section 4).
- ``"straight_through"``: the decoder sees the hard one-hot of argmax y, and the gradient is
  y's (section 2.2 of the same paper): exact forward, biased backward.

Whatever the estimator, ``elbo``, ``iwae_bound`` and ``log_prob`` evaluate the real discrete
model, with z drawn from q exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen import distributions as D
from scratchgen.data import DataInfo
from scratchgen.estimators import gumbel_softmax
from scratchgen.models.base import register
from scratchgen.models.latent.base import LatentVariableModel
from scratchgen.models.latent.networks import ARCHITECTURES, Decoder, Encoder
from scratchgen.models.latent.observation import Observation
from scratchgen.nn import MLP
from scratchgen.settings import NonNegative, OneOf, Positive, Range, Size

ESTIMATORS = ("reinforce", "gumbel", "straight_through")
BASELINES = ("none", "leave_one_out", "nvil")
NVIL_DECAY = 0.8  # Mnih & Gregor's alpha for the running mean and variance


@register(
    "discrete_vae",
    ("binary", "categorical", "continuous"),
    "VAE with categorical latents: REINFORCE (+ baselines, NVIL), Gumbel-softmax, straight-through",
)
class DiscreteVAE(LatentVariableModel):
    def __init__(self, info: DataInfo, groups: Size = 10,
                 categories: Annotated[int, Range(2, 4096)] = 10,
                 hidden: Sequence[Size] = (256, 256),
                 arch: Annotated[str, OneOf(ARCHITECTURES)] = "mlp", filters: Size = 32,
                 estimator: Annotated[str, OneOf(ESTIMATORS)] = "gumbel",
                 baseline: Annotated[str, OneOf(BASELINES)] = "nvil", samples: Size = 1,
                 temperature: Positive = 1.0, temperature_min: Positive = 0.5,
                 anneal_rate: NonNegative = 1e-4, eval_samples: Size = 100,
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, groups=groups, categories=categories, hidden=list(hidden),
                         arch=arch, filters=filters, estimator=estimator, baseline=baseline,
                         samples=samples, temperature=temperature,
                         temperature_min=temperature_min, anneal_rate=anneal_rate,
                         eval_samples=eval_samples, **hparams)  # fmt: skip
        if baseline == "leave_one_out" and samples < 2 and estimator == "reinforce":
            raise ValueError("discrete_vae: the leave-one-out baseline needs samples >= 2")
        if temperature_min > temperature:
            raise ValueError(f"discrete_vae: temperature_min ({temperature_min}) must not exceed "
                             f"temperature ({temperature})")  # fmt: skip
        rng = np.random.default_rng(hparams.get("seed", 0))
        self.G, self.K = groups, categories
        self.observation = Observation(info, self.dtype)
        nets = dict(hidden=hidden, arch=arch, filters=filters, condition=0, rng=rng,
                    dtype=self.dtype)  # fmt: skip
        self.encoder = Encoder(info, groups * categories, **nets)
        self.decoder = Decoder(info, groups * categories, self.observation.per_dim, **nets)
        if estimator == "reinforce" and baseline == "nvil":
            self.baseline_net = MLP([info.dims, 100, 1], rng=rng, dtype=self.dtype)
            self.register_buffer("signal_mean", np.zeros((), np.float64))
            self.register_buffer("signal_var", np.ones((), np.float64))
        self.register_buffer("updates", np.zeros((), np.int64))

    # ------------------------------------------------------------------ the three distributions
    def prior(self) -> D.Distribution:
        return D.Independent(D.Categorical(logits=np.zeros((self.G, self.K), self.dtype)), 1)

    def logits(self, x: Tensor) -> Tensor:
        """The encoder's (n, G, K) logits of q(z | x)."""
        out = self.encoder(self.observation.scaled(x))
        return ad.reshape(out, (x.shape[0], self.G, self.K))

    def posterior(self, x: Tensor, y: Any = None) -> D.Distribution:
        return D.Independent(D.Categorical(logits=self.logits(x)), 1)

    def likelihood(self, z: Tensor, y: Any = None) -> D.Distribution:
        """p(x | z) for integer codes z (..., G): the decoder sees their one-hot vectors."""
        one_hot = np.eye(self.K, dtype=self.dtype)[np.asarray(z.data, dtype=np.int64)]
        return self._decode(ad.Tensor(one_hot))

    def _decode(self, one_hot: Tensor) -> D.Distribution:
        """p(x | z) from (..., G, K) one-hot (or relaxed) codes."""
        flat = ad.reshape(one_hot, one_hot.shape[:-2] + (self.G * self.K,))
        return self.observation.distribution(self.decoder(flat))

    def targets(self, x: Tensor) -> Any:
        return self.observation.targets(x)

    # ------------------------------------------------------------------ training
    def temperature(self) -> float:
        """tau_t = max(tau_min, tau_0 exp(-r t)) at update t."""
        h = self.hparams
        decayed = h["temperature"] * math.exp(-h["anneal_rate"] * float(self.updates))
        return max(h["temperature_min"], decayed)

    def loss(self, x: Any, y: Any = None) -> Tensor:
        """-E_q[log p(x | z)] + KL(q || p), mean over the batch, with the chosen estimator
        carrying the encoder's gradient through the first term."""
        training = ad.is_grad_enabled() and self.training
        x = self.as_input(x)
        q = self.posterior(x)
        kl = ad.mean(D.kl_divergence(q, self.prior()))
        S = self.hparams["samples"]
        if self.hparams["estimator"] == "reinforce":
            reconstruction = self._score_function_term(x, q, S, training)
        else:
            hard = self.hparams["estimator"] == "straight_through"
            logits = q.base.logits  # log q(z_g = k | x), (n, G, K)
            stacked = ad.broadcast_to(logits, (S, *logits.shape))
            y_relaxed = gumbel_softmax(stacked, self.temperature(), self.rng, hard)
            reconstruction = ad.mean(self._decode(y_relaxed).log_prob(self.targets(x)))
        if training:
            self.updates[...] += 1
        return -reconstruction + kl

    def _score_function_term(self, x: Tensor, q: D.Distribution, S: int, training: bool) -> Tensor:
        """A surrogate whose value is the mean log p(x | z) and whose gradient is the decoder's
        exact gradient plus the encoder's score-function estimate (and, for NVIL, the least
        squares gradient of the baseline network)."""
        z = ad.Tensor(q.sample((S,), rng=self.rng))  # (S, n, G)
        log_px_z = self.likelihood(z).log_prob(self.targets(x))  # (S, n), gradient: decoder
        f = log_px_z.data.astype(np.float64)
        baseline = self.hparams["baseline"]
        surrogate = ad.mean(log_px_z)
        if baseline == "leave_one_out":
            signal = f - (f.sum(axis=0) - f) / (S - 1)
        elif baseline == "nvil":
            b_x = self.baseline_net(ad.reshape(self.observation.scaled(x), (x.shape[0], -1)))
            b_x = ad.reshape(b_x, (x.shape[0],))
            centred = f - float(self.signal_mean) - b_x.data  # (S, n)
            signal = centred / max(1.0, math.sqrt(float(self.signal_var)))
            # least squares for b_psi: subtracted, so that minimising the loss minimises it
            surrogate = surrogate - _gradient_only(
                ad.mean((f - float(self.signal_mean) - b_x) ** 2)
            )
            if training:
                a = NVIL_DECAY
                self.signal_mean[...] = a * self.signal_mean + (1 - a) * f.mean()
                self.signal_var[...] = a * self.signal_var + (1 - a) * np.mean(centred**2)
        else:
            signal = f
        log_q = q.log_prob(z)  # (S, n)
        return surrogate + _gradient_only(
            ad.mean(ad.as_constant(signal.astype(log_q.dtype)) * log_q)
        )


def _gradient_only(t: Tensor) -> Tensor:
    """t - stop_gradient(t): the value 0, the gradient of t."""
    return t - t.detach()
