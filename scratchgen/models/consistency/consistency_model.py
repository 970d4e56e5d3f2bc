"""A consistency model (Song, Dhariwal, Chen & Sutskever 2023) on the diffusion models' network:

    f_theta(x, sigma) = c_skip(sigma) x + c_out(sigma) F_theta(c_in(sigma) x, sigma),

the boundary f_theta(x, eps) = x exact by c_skip(eps) = 1, c_out(eps) = 0
(``scratchgen.consistency``). F_theta is the UNet (the MLP on vectors) reading sigma as the
time input 1000 (log sigma - log eps) / (log T - log eps), so that [eps, T] spans the range a
diffusion time does.

``objective="training"`` (consistency training, algorithm 3) needs nothing but data: its grid
grows from s0 to s1 + 1 levels over K updates and the target's decay mu(k) with it.
``objective="distillation"`` (algorithm 2) distils a trained ``ddpm`` (``teacher=RUN_FOLDER``,
or ``set_teacher`` with any D(x; sigma)) on a fixed grid of N levels, with Heun steps of the
teacher's probability-flow ODE and the fixed decay mu. A DDPM's denoiser exists only on its
own T noise levels, so the grid's levels above eps move to the nearest of them, and the last
step, to eps itself, is Euler's. Both compare outputs in the squared Euclidean distance per
dimension (the paper's l2; its best results use LPIPS, a learned image metric we do not have).

The target network theta- is a copy of the weights kept in buffers (the checkpoint holds it, so
a resumed run continues bit for bit), updated after every optimizer step by ``after_update``;
sampling uses the trainer's average of the weights, as the diffusion models do. ``sample(n,
rng, steps=1)`` is algorithm 1 at levels of the training grid (``sampling_levels``), or at
the given ``sigmas``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any, Literal

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen import consistency as cm
from scratchgen.data import DataInfo
from scratchgen.models.base import register
from scratchgen.models.diffusion.base import TIME_SCALE, DiffusionModel
from scratchgen.settings import Decay, Every, Positive, Size

Denoiser = Callable[[np.ndarray, np.ndarray], np.ndarray]


@register("consistency", ("binary", "categorical", "continuous"),
          "consistency model (Song et al. 2023): consistency training from scratch or "
          "distillation of a ddpm; one- and few-step sampling")  # fmt: skip
class ConsistencyModel(DiffusionModel):
    likelihood_in_training = False

    def __init__(self, info: DataInfo,
                 objective: Literal["training", "distillation"] = "training",
                 teacher: str = "", sigma_min: Positive = 0.002, sigma_max: Positive = 80.0,
                 sigma_data: Positive = 0.5, rho: Positive = 7.0, N: Size = 18,
                 mu: Decay = 0.95, s0: Size = 2, s1: Size = 150, K: Every = 10000,
                 mu0: Decay = 0.9, sample_steps: Size = 1, **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, objective=objective, teacher=teacher, sigma_min=sigma_min,
                         sigma_max=sigma_max, sigma_data=sigma_data, rho=rho, N=N, mu=mu,
                         s0=s0, s1=s1, K=K, mu0=mu0, sample_steps=sample_steps,
                         **hparams)  # fmt: skip
        if not sigma_min < sigma_max:
            raise ValueError(f"consistency: need sigma_min < sigma_max, got {sigma_min} and "
                             f"{sigma_max}")  # fmt: skip
        if s0 > s1 or N < 2:
            raise ValueError(f"consistency: need s0 <= s1 and N >= 2, got s0={s0}, s1={s1}, "
                             f"N={N}")  # fmt: skip
        if teacher and objective != "distillation":
            raise ValueError("consistency: a teacher is for objective=distillation")
        # theta-, one buffer per weight (the caption encoder's too: it is part of F_theta)
        self._weights = list(self.parameters())
        for index, p in enumerate(self._weights):
            self.register_buffer(f"target_{index}", p.data.copy())
        self.register_buffer("updates", np.zeros((), np.int64))  # k, the count of updates
        # the last grid of training, where samplers evaluate f: the network is trained at
        # these levels only and interpolates between them poorly (its time features are sharp)
        final = N if objective == "distillation" else s1 + 1
        self.register_buffer("levels", cm.time_grid(final, sigma_min, sigma_max, rho))
        self._teacher: Denoiser | None = None
        self._teacher_levels: np.ndarray | None = None

    # ------------------------------------------------------------------ the function
    @property
    def epsilon(self) -> float:
        return float(self.hparams["sigma_min"])

    def _time(self, sigma: np.ndarray) -> np.ndarray:
        h = self.hparams
        span = math.log(h["sigma_max"]) - math.log(h["sigma_min"])
        return TIME_SCALE * (np.log(sigma) - math.log(h["sigma_min"])) / span

    def consistency_tensor(self, x: Tensor, sigma: np.ndarray,
                           y: np.ndarray | None = None) -> Tensor:  # fmt: skip
        """f_theta(x, sigma, y) per example, differentiable in the weights."""
        sigma = np.asarray(sigma, np.float64)
        c_skip, c_out, c_in = (ad.Tensor(cm.column(c, x).astype(self.dtype))
                               for c in cm.scalings(sigma, self.epsilon,
                                                    self.hparams["sigma_data"]))  # fmt: skip
        x = ad.astype(x, self.dtype)
        return c_skip * x + c_out * self.network(c_in * x, self._time(sigma), y)

    def consistency(self, x: np.ndarray, sigma: np.ndarray,
                    y: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
        """f_theta(x, sigma, y) as a float64 ndarray, no graph."""
        with ad.no_grad():
            out = self.consistency_tensor(Tensor(np.asarray(x, self.dtype)), sigma, y)
        return out.data.astype(np.float64)

    # ------------------------------------------------------------------ the target network
    def initialize(self, x_train: np.ndarray, rng: np.random.Generator) -> None:
        super().initialize(x_train, rng)
        self._average_target(0.0)  # theta- = theta at the start

    def _targets(self) -> list[np.ndarray]:
        return [getattr(self, f"target_{i}") for i in range(len(self._weights))]

    def _average_target(self, mu: float) -> None:
        for target, p in zip(self._targets(), self._weights):
            target *= mu
            target += (1 - mu) * p.data

    @contextlib.contextmanager
    def _target_weights(self) -> Iterator[None]:
        """The network's weights replaced by theta- for the block."""
        saved = [p.data for p in self._weights]
        try:
            for p, target in zip(self._weights, self._targets()):
                p.data = target.astype(p.data.dtype, copy=True)
            yield
        finally:
            for p, data in zip(self._weights, saved):
                p.data = data

    def grid_and_decay(self) -> tuple[np.ndarray, float]:
        """The levels t_1 = eps < ... < t_N = T of the current update and the target's decay:
        consistency training's N(k), mu(k), or distillation's fixed ``levels`` and mu."""
        h = self.hparams
        if h["objective"] == "training":
            N = cm.discretization(int(self.updates), h["K"], h["s0"], h["s1"])
            return (cm.time_grid(N, h["sigma_min"], h["sigma_max"], h["rho"]),
                    cm.target_decay(N, h["s0"], h["mu0"]))  # fmt: skip
        self._load_teacher()
        return self.levels, h["mu"]

    def after_update(self, name: str) -> None:
        """theta- <- mu theta- + (1 - mu) theta (eq. 8), and k <- k + 1."""
        _, mu = self.grid_and_decay()
        self._average_target(mu)
        self.updates += 1

    def diagnostics(self) -> dict[str, float]:
        return {"levels": float(len(self.grid_and_decay()[0]))}

    # ------------------------------------------------------------------ the teacher
    def set_teacher(self, denoiser: Denoiser, levels: np.ndarray | None = None) -> None:
        """Distil ``denoiser`` D(x, sigma) (arrays in the model's space, sigma one per example).
        A teacher that answers only at ``levels`` has the grid's levels above eps moved to the
        nearest of them (in log sigma; two may coincide, a step of length 0), and its step to
        eps, which it cannot evaluate, is Euler's."""
        if self.hparams["objective"] != "distillation":
            raise ValueError("consistency: set_teacher is for objective=distillation")
        self._teacher = denoiser
        self._teacher_levels = None
        if levels is not None:
            h = self.hparams
            levels = np.sort(np.asarray(levels, np.float64))
            grid = cm.time_grid(h["N"], h["sigma_min"], h["sigma_max"], h["rho"])
            nearest = np.abs(np.log(levels)[:, None] - np.log(grid[1:])).argmin(axis=0)
            self.levels[1:] = np.maximum(levels[nearest], self.epsilon)
            self._teacher_levels = levels

    def _load_teacher(self) -> None:
        """The ``teacher`` run's DDPM as the denoiser, on first use."""
        if self._teacher is not None:
            return
        folder = self.hparams["teacher"]
        if not folder:
            raise ValueError("consistency: objective=distillation needs a teacher: "
                             "teacher=RUN_FOLDER (a trained ddpm) or set_teacher(D)")  # fmt: skip
        from scratchgen.train.runs import load_model_run  # train imports the models

        teacher = load_model_run(folder, ("ddpm",), self.info, "consistency", "teacher")
        denoiser = teacher.denoiser()
        self.set_teacher(denoiser, denoiser.sigmas)

    # ------------------------------------------------------------------ training
    def loss(self, x: Any, y: Any = None) -> Tensor:
        """The consistency loss of the batch: n ~ U{1, ..., N - 1}, z ~ N(0, I),

            || f_theta(x + t_{n+1} z, t_{n+1}) - f_theta-(x_hat, t_n) ||^2 / D,

        x_hat = x + t_n z (training, eq. 10) or the teacher's ODE step from x + t_{n+1} z to
        t_n (distillation, eq. 7)."""
        x0 = self.signal(x).astype(np.float64)
        labels = self.training_labels(y, len(x0))
        if labels is not None and self.hparams["objective"] == "distillation":
            raise ValueError("consistency: distillation reads an unconditional ddpm; train a "
                             "conditional model by objective=training")  # fmt: skip
        grid, _ = self.grid_and_decay()
        n = self.rng.integers(len(grid) - 1, size=len(x0))
        t_n, t_next = grid[n], grid[n + 1]
        z = self.rng.standard_normal(x0.shape)
        x_next, x_hat = cm.noised_pair(x0, z, t_n, t_next)
        if self.hparams["objective"] == "distillation":
            levels = self._teacher_levels
            heun = np.ones(len(x0), bool) if levels is None else np.isin(t_n, levels)
            x_hat = cm.teacher_step(self._teacher, x_next, t_next, t_n, heun)
        with self._target_weights():
            target = self.consistency(x_hat, t_n, labels)
        online = self.consistency_tensor(Tensor(x_next.astype(self.dtype)), t_next, labels)
        difference = online - Tensor(target.astype(self.dtype))
        return ad.mean(difference * difference)

    def log_prob(self, x: Any, y: Any = None) -> Tensor:
        raise NotImplementedError("consistency: the model has no likelihood (a one-step map "
                                  "of noise); evaluate it by its samples (fid, kid, pr, "
                                  "mmd)")  # fmt: skip

    # ------------------------------------------------------------------ sampling
    def sampling_levels(self, steps: int) -> np.ndarray:
        """The levels of a ``steps``-evaluation chain: those of ``consistency.sampling_sigmas``
        moved to the nearest of the training grid's ``levels`` above eps (the official code
        too samples at indices into its grid)."""
        h = self.hparams
        wanted = cm.sampling_sigmas(steps, h["sigma_min"], h["sigma_max"], h["rho"])
        grid = np.unique(self.levels[self.levels > self.epsilon])
        if steps > len(grid):
            raise ValueError(f"consistency: at most {len(grid)} sampling steps (the levels of "
                             f"training above eps), got {steps}")  # fmt: skip
        chosen = np.unique(np.abs(np.log(grid)[:, None] - np.log(wanted)).argmin(axis=0))
        if len(chosen) < steps:
            raise ValueError(f"consistency: {steps} sampling steps would meet one level of the "
                             "training grid twice; take fewer, or give sigmas=")  # fmt: skip
        return grid[chosen][::-1]

    def sample(self, n: int, rng: np.random.Generator, steps: int | None = None,
               sigmas: Any = None, y: Any = None, caption: Any = None,
               return_trajectory: bool = False) -> Any:  # fmt: skip
        """Algorithm 1 in data space: x = f(T z, T), then f(x + sqrt(tau^2 - eps^2) z, tau) at
        each later level: ``steps`` evaluations (the settings' ``sample_steps`` unless
        given) at ``sampling_levels(steps)``, or exactly the given decreasing ``sigmas``
        (the first is where the chain starts); under labels y or a caption for a conditional
        model. With ``return_trajectory`` also each evaluation's output, in the model's
        space."""
        if sigmas is None:
            sigmas = self.sampling_levels(steps or self.hparams["sample_steps"])
        elif steps is not None:
            raise ValueError("consistency: give steps or sigmas, not both")
        labels = self.condition_labels(self.given_condition(y, caption), n)
        out = cm.multistep(lambda x, s: self.consistency(x, s, labels), (n, *self.info.shape),
                           rng, sigmas, self.epsilon, return_trajectory)  # fmt: skip
        if return_trajectory:
            return self.from_signal(out[0]), out[1]
        return self.from_signal(out)
