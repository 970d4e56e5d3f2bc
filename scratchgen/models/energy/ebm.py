"""An energy-based model, p(x) = exp(-E(x)) / Z, with E a neural network (``networks``), fitted
by one of five objectives (the setting ``objective``):

- ``cd``: contrastive divergence with short-run Langevin chains from a replay buffer (Du &
  Mordatch 2019; defaults from their paper and the public EBM tutorials: a buffer of 8192
  chains, 5% fresh starts, 60 steps of x <- clip(x - lambda clip(grad E, +-0.03) + sigma z) with
  lambda = 10, sigma = 0.005, and the energy penalty alpha = 0.1);
- ``exact``, ``sliced`` and ``denoising`` score matching of s(x) = -grad_x E(x)
  (``scratchgen.score_matching``), which never sample the model;
- ``nce``: noise-contrastive estimation against a Gaussian fitted to the data, with the
  log-normaliser c a parameter.

Images are modelled in signal space, [-1, 1] (``scratchgen.models.signal``); ``energy`` and
``score`` take points there (``signal(x)`` maps data to it).

The Langevin step here sets its step and its noise apart, as the tutorials do: with
lambda = ``step_size`` and sigma = ``noise`` it is ``samplers.langevin`` with epsilon = sigma^2
on the tempered target p^(2 lambda / sigma^2), i.e. at temperature T = sigma^2 / (2 lambda):
1.25e-6 with the defaults, a mode seeker. ``step_size=None`` sets lambda = sigma^2 / 2, plain
Langevin on p itself (with ``grad_clamp=0``, the 2-D toys' choice).

Z is intractable: ``log_prob`` is an estimate, flagged so (``log_prob_is_estimate``): on 1- and
2-D data log Z comes from a quadrature on a grid (exact to its resolution), elsewhere from AIS,
whose log Z is low in expectation, so that the log p(x) it gives is high.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np
from scipy.special import logsumexp

import autodiff as ad
from autodiff import Tensor
from scratchgen import metrics, samplers
from scratchgen import score_matching as sm
from scratchgen.data import DataInfo
from scratchgen.models.base import GenerativeModel, register
from scratchgen.models.energy.networks import energy_network
from scratchgen.models.energy.objectives import contrastive_divergence, nce_loss
from scratchgen.models.energy.replay import ReplayBuffer
from scratchgen.models.signal import from_signal, to_signal
from scratchgen.nn import Parameter
from scratchgen.settings import NonNegative, Positive, Probability, Range, Size

BufferSize = Annotated[int, Range(1, 10**6)]
ChainSteps = Annotated[int, Range(1, 10**5)]
Objective = Literal["cd", "exact", "sliced", "denoising", "nce"]

GRID_POINTS = 400  # per axis, for log Z on 1- and 2-D data
NCE_WIDENING = 1.5  # the noise's standard deviations against the data's, per dimension


@register("ebm", ("binary", "categorical", "continuous"),
          "energy-based model: contrastive divergence with Langevin and a replay buffer, "
          "score matching or NCE")  # fmt: skip
class EBM(GenerativeModel):
    def __init__(self, info: DataInfo, objective: Objective = "cd",
                 hidden: Sequence[Size] = (128, 128), filters: Size = 32,
                 buffer_size: BufferSize = 8192, reinit: Probability = 0.05,
                 langevin_steps: ChainSteps = 60, step_size: Positive | None = 10.0,
                 noise: Positive = 0.005, grad_clamp: NonNegative = 0.03,
                 sample_clamp: NonNegative = 1.0, alpha: NonNegative = 0.1,
                 data_noise: NonNegative = 0.005, sigma: Positive = 0.1,
                 projections: Size = 1, energy_limit: Positive = 1e4,
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, objective=objective, hidden=list(hidden), filters=filters,
                         buffer_size=buffer_size, reinit=reinit, langevin_steps=langevin_steps,
                         step_size=step_size, noise=noise, grad_clamp=grad_clamp,
                         sample_clamp=sample_clamp, alpha=alpha, data_noise=data_noise,
                         sigma=sigma, projections=projections, energy_limit=energy_limit,
                         **hparams)  # fmt: skip
        rng = np.random.default_rng([self.hparams["seed"], 3])
        self.image = len(info.shape) == 3
        self.net = energy_network(info.shape, self.hparams["hidden"], filters, rng=rng,
                                  dtype=self.dtype)  # fmt: skip
        # the fresh chains' law: uniform on a box, [-1, 1] for images, the data's for vectors
        self.register_buffer("low", np.full(info.shape, -1.0, dtype=self.dtype))
        self.register_buffer("high", np.full(info.shape, 1.0, dtype=self.dtype))
        self.replay = ReplayBuffer(buffer_size, info.shape, reinit, self._fresh, rng, self.dtype)
        if objective == "nce":
            self.c = Parameter(np.zeros((), dtype=self.dtype))
            self.register_buffer("noise_mean", np.zeros(info.shape, dtype=self.dtype))
            self.register_buffer("noise_std", np.ones(info.shape, dtype=self.dtype))
        limit = self.hparams["energy_limit"]
        self.diagnostic_limits = dict.fromkeys(("energy_data", "energy_samples", "energy_gap"),
                                               limit)  # fmt: skip
        self._last: dict[str, float] = {}
        self.log_prob_is_estimate = True

    # ------------------------------------------------------------------ the energy
    def signal(self, x: Any) -> np.ndarray:
        """Data -> the space E is defined on, in the model's dtype."""
        x = x.data if isinstance(x, Tensor) else np.asarray(x)
        return to_signal(x, self.info).astype(self.dtype)

    def energy(self, x: Any) -> Tensor:
        """E(x) per example, (n,), at points x in signal space."""
        return self.net(x if isinstance(x, Tensor) else Tensor(np.asarray(x, self.dtype)))

    def score(self, x: Any) -> np.ndarray:
        """s(x) = -grad_x E(x), an ndarray of x's shape, at points in signal space."""
        with ad.enable_grad():
            leaf = Tensor(np.asarray(x, self.dtype), requires_grad=True)
            (g,) = ad.grad(ad.sum(self.energy(leaf)), leaf)
        return -g.data

    def score_tensor(self, x: Tensor) -> Tensor:
        """-grad_x E(x) as a Tensor differentiable in the parameters (for score matching);
        x must be a leaf that requires grad."""
        (g,) = ad.grad(ad.sum(self.energy(x)), x, create_graph=True)
        return -g

    # ------------------------------------------------------------------ chains
    def _fresh(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.low, self.high, size=(n, *self.info.shape)).astype(self.dtype)

    def langevin(self, x0: np.ndarray, steps: int, rng: np.random.Generator) -> np.ndarray:
        """Short-run chains from x0 (signal space), by the decoupled step of the module
        docstring: samplers.langevin with epsilon = sigma^2 and the score
        (2 lambda / sigma^2) clip(-grad E, +-grad_clamp), projected onto [-c, c] on images."""
        h = self.hparams
        sigma = h["noise"]
        lam = h["step_size"] if h["step_size"] is not None else sigma**2 / 2
        clamp, gain = h["grad_clamp"], 2 * lam / sigma**2
        norms = []

        def tempered(x: np.ndarray) -> np.ndarray:
            s = self.score(x)
            norms.append(float(np.mean(np.sqrt(np.sum(s.reshape(len(s), -1) ** 2, axis=1)))))
            return gain * (np.clip(s, -clamp, clamp) if clamp > 0 else s)

        c = h["sample_clamp"]
        bounds = (-c, c) if self.image and c > 0 else None
        with ad.no_grad():
            x = samplers.langevin(tempered, x0, sigma**2, steps, rng, bounds=bounds)
        self._last_grad_norm = norms[-1]
        return x.astype(self.dtype)

    # ------------------------------------------------------------------ training
    def initialize(self, x_train: np.ndarray, rng: np.random.Generator) -> None:
        """Vectors: fresh chains uniform on the data's box, widened by a tenth of its size on
        each side; NCE's noise is N(mean, (1.5 std)^2) per dimension of the data. The buffer
        is refilled from the new law."""
        x = self.signal(x_train)
        if not self.image:
            low, high = x.min(axis=0), x.max(axis=0)
            margin = 0.1 * (high - low)
            self.low[...], self.high[...] = low - margin, high + margin
        if self.hparams["objective"] == "nce":
            self.noise_mean[...] = x.mean(axis=0)
            self.noise_std[...] = NCE_WIDENING * x.std(axis=0) + 1e-3
        self.replay.refill(rng)

    def _positive(self, x: Any) -> np.ndarray:
        """The data batch in signal space, with (in training) the small noise that keeps E
        smooth between data points (``data_noise``)."""
        s = self.signal(x)
        if self.training and self.hparams["data_noise"] > 0:
            s = s + self.hparams["data_noise"] * self.rng.standard_normal(s.shape).astype(s.dtype)
        return s

    def loss(self, x: Any, y: Any = None) -> Tensor:
        h, x_pos = self.hparams, self._positive(x)
        objective = h["objective"]
        if objective == "exact":
            return sm.exact_score_matching(self.score_tensor, x_pos)
        if objective == "sliced":
            return sm.sliced_score_matching(self.score_tensor, x_pos, self.rng,
                                            projections=h["projections"],
                                            variance_reduction=True)  # fmt: skip
        if objective == "denoising":
            return sm.denoising_score_matching(self.score_tensor, x_pos, h["sigma"], self.rng)
        if objective == "nce":
            noise = self.noise_mean + self.noise_std * self.rng.standard_normal(x_pos.shape)
            loss = nce_loss(self._log_unnormalised, x_pos, noise.astype(self.dtype),
                            self._log_noise)  # fmt: skip
            self._last = {"log_normalizer": -float(self.c.data)}
            return loss
        return self._contrastive_divergence(x_pos)

    def _contrastive_divergence(self, x_pos: np.ndarray) -> Tensor:
        """In training, the surrogate on fresh chain ends (stored back); in evaluation, on the
        buffer's first chains as they are, so that a test loss leaves the chains alone."""
        if not self.training:
            e_neg = self.energy(self.replay.chains[: len(x_pos)])
            return contrastive_divergence(self.energy(x_pos), e_neg, self.hparams["alpha"])
        index, x0 = self.replay.starts(len(x_pos), self.rng)
        x_neg = self.langevin(x0, self.hparams["langevin_steps"], self.rng)
        self.replay.store(index, x_neg)
        e_pos, e_neg = self.energy(x_pos), self.energy(x_neg)
        mean_pos, mean_neg = float(np.mean(e_pos.data)), float(np.mean(e_neg.data))
        self._last = {"energy_data": mean_pos, "energy_samples": mean_neg,
                      "energy_gap": mean_pos - mean_neg,
                      "grad_norm": self._last_grad_norm}  # fmt: skip
        return contrastive_divergence(e_pos, e_neg, self.hparams["alpha"])

    def diagnostics(self) -> dict[str, float]:
        """With ``cd``: the mean energy of the data and of the chains (the buffer's), their gap
        E(x+) - E(x-), and the mean ||grad_x E|| at the chains' last step; with ``nce``, the
        estimate of log Z, -c. Training stops when an energy's magnitude passes
        ``energy_limit``."""
        return dict(self._last)

    # ------------------------------------------------------------------ NCE's pieces
    def _log_unnormalised(self, u: Tensor) -> Tensor:
        return -self.energy(u) + self.c

    def _log_noise(self, u: np.ndarray) -> np.ndarray:
        z = (u - self.noise_mean) / self.noise_std
        per_dim = -0.5 * z**2 - np.log(self.noise_std) - 0.5 * math.log(2 * math.pi)
        return per_dim.reshape(len(u), -1).sum(axis=1)

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, rng: np.random.Generator, steps: int = 256,
               from_buffer: bool = False) -> np.ndarray:  # fmt: skip
        """n samples in data space: ``steps`` Langevin steps from fresh noise, or (with
        ``from_buffer``) n of the replay buffer's chains as they are."""
        if from_buffer:
            if n > len(self.replay):
                raise ValueError(f"ebm: {n} samples from a buffer of {len(self.replay)} chains; "
                                 "raise buffer_size or sample fresh chains")  # fmt: skip
            x = self.replay.chains[rng.choice(len(self.replay), size=n, replace=False)]
        else:
            x = self.langevin(self._fresh(n, rng), steps, rng)
        return from_signal(x, self.info)

    # ------------------------------------------------------------------ the normaliser
    def log_normalizer(self, rng: np.random.Generator | None = None, chains: int = 64,
                       steps: int = 500) -> float:  # fmt: skip
        """An estimate of log Z = log int exp(-E(x)) dx over signal space: on 1- and 2-D data,
        the midpoint rule on a grid of GRID_POINTS per axis over the fresh chains' box widened
        to twice its size (mass outside it is lost); elsewhere AIS (``metrics.ais``) with
        ``steps`` HMC temperatures from N(centre, half-width^2) of the same box."""
        D = int(np.prod(self.info.shape))
        centre = (self.low + self.high) / 2
        width = self.high - self.low
        with ad.no_grad():
            if D <= 2:
                axes = [np.linspace(c - w, c + w, GRID_POINTS + 1) for c, w in
                        zip(centre.reshape(-1), width.reshape(-1))]  # fmt: skip
                mids = [(a[1:] + a[:-1]) / 2 for a in axes]
                cell = np.prod([a[1] - a[0] for a in axes])
                grid = np.stack(np.meshgrid(*mids, indexing="ij"), -1).reshape(-1, D)
                energies = self.energy(grid.reshape(-1, *self.info.shape)).data
                return float(logsumexp(-energies.astype(np.float64)) + math.log(cell))
            return self._ais_log_normalizer(centre, width / 2, rng or self.rng, chains, steps)

    def _ais_log_normalizer(self, centre: np.ndarray, scale: np.ndarray,
                            rng: np.random.Generator, chains: int,
                            steps: int) -> float:  # fmt: skip
        shape = self.info.shape

        mu, scale = centre.reshape(1, -1).astype(np.float64), scale.reshape(1, -1)
        log_scale = float(np.sum(np.log(scale))) + mu.size * 0.5 * math.log(2 * math.pi)

        def log_prior_and_grad(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            z = (x - mu) / scale
            return -0.5 * np.sum(z**2, axis=1) - log_scale, -z / scale

        def log_target_and_grad(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            points = x.reshape(-1, *shape).astype(self.dtype)
            e = self.energy(points).data.astype(np.float64)
            return -e, self.score(points).reshape(len(x), -1).astype(np.float64)

        transition = metrics.hmc_transition(log_prior_and_grad, log_target_and_grad,
                                            step_size=0.05, leapfrog_steps=5)  # fmt: skip

        def start(r: np.random.Generator) -> np.ndarray:
            return mu + scale * r.standard_normal((chains, mu.size))

        log_w = metrics.ais(lambda x: log_prior_and_grad(x)[0],
                            lambda x: log_target_and_grad(x)[0], start, transition,
                            np.linspace(0, 1, steps), rng)  # fmt: skip
        return metrics.log_mean_weight(log_w)

    def log_prob(self, x: Any, y: Any = None, log_z: float | None = None) -> Tensor:
        """-E(x) - log Z per example, in nats, at data x, with log Z from ``log_normalizer``
        unless given: an estimate (see the module docstring). On images it is a density over
        signal space, not a probability of the discrete levels."""
        z = self.log_normalizer() if log_z is None else log_z
        return -self.energy(self.signal(x)) - z
