"""Conditional flow matching (Lipman et al. 2023; Tong et al. 2024): a network v_theta(x, t)
trained by

    L = E_{t ~ U(0, 1), (x0, x1) ~ pi} || v_theta(x_t, t) - u_t(x_t | x0, x1) ||^2

with x0 from the source (N(0, I), or with ``source=NAME`` the training split of a dataset or
array file, drawn uniformly), x1 the data in the model's space (images on [-1, 1]), the
conditional path ``path`` of width ``sigma`` and the coupling pi: independent, minibatch
optimal transport (``coupling="ot"``), or with ``coupling="reflow"`` the pairs (x0,
teacher(x0)) of a trained flow, rectified flow's reflow (Liu et al. 2023, "Flow Straight and
Fast", algorithm 1): ``student.set_pairs(*teacher.couple(n, rng))`` keeps n pairs, the
setting ``pairs`` = n, and training draws its batches from them (the data's batch fixes only
their size), so that the student learns a straighter flow between the same two
distributions. Samples integrate dx/dt = v_theta(x, t) from the source at t = 0 to t = 1 by
Euler, Heun or an adaptive solver (``scratchgen.ode``); ``log_prob`` is the flow's exact
log-density by the instantaneous change of variables (from a Gaussian source, or one with a
known density), with the dequantised bound on discrete data as for the score SDE model:

    y = 2 (x + u) / L - 1,  u ~ U[0, 1)^D,     -log P(x) <= -log p(y) + D log(L / 2).

The network, the space, the average of the weights and the class condition with
classifier-free guidance (applied to the velocity, (1 + w) v(x, t, c) - w v(x, t)) are the
diffusion models' (``scratchgen.models.diffusion.base``); t in [0, 1] reaches the network as
1000 t, as a diffusion time does.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Literal

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen import data as datasets
from scratchgen import flow_matching as fm
from scratchgen import ode
from scratchgen.data import DataInfo
from scratchgen.models.base import register
from scratchgen.models.diffusion.base import TIME_SCALE, DiffusionModel
from scratchgen.settings import Examples, NonNegative, Positive, Size


def standard_normal_log_prob(z: np.ndarray) -> np.ndarray:
    """log N(z; 0, I) per example, (n,)."""
    flat = np.asarray(z, np.float64).reshape(len(z), -1)
    return -0.5 * np.sum(flat**2, axis=1) - 0.5 * flat.shape[1] * math.log(2 * math.pi)


@register("flow_matching", ("binary", "categorical", "continuous"),
          "conditional flow matching (Lipman et al. 2023) with independent or minibatch-OT "
          "couplings (Tong et al. 2024); Euler, Heun or adaptive ODE sampling; exact "
          "likelihood")  # fmt: skip
class FlowMatching(DiffusionModel):
    has_bound = True

    def __init__(self, info: DataInfo, path: Literal["lipman", "tong"] = "lipman",
                 sigma: NonNegative = 1e-4,
                 coupling: Literal["independent", "ot", "reflow"] = "independent",
                 source: str = "gaussian", pairs: Examples = 0,
                 sampler: Literal["euler", "heun", "adaptive"] = "euler", sample_steps: Size = 100,
                 rtol: Positive = 1e-5, atol: Positive = 1e-5, **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, path=path, sigma=sigma, coupling=coupling, source=source,
                         pairs=pairs, sampler=sampler, sample_steps=sample_steps, rtol=rtol,
                         atol=atol, **hparams)  # fmt: skip
        if (coupling == "reflow") != (pairs > 0):
            raise ValueError("flow_matching: coupling=reflow trains on pairs=N > 0 pairs of a "
                             "teacher (set_pairs), and only it")  # fmt: skip
        shape = (pairs, *info.shape)
        self.register_buffer("pair_x0", np.zeros(shape, np.float64))
        self.register_buffer("pair_x1", np.zeros(shape, np.float64))
        self._source_data: datasets.Dataset | None = None
        if source != "gaussian":
            self._source_data = datasets.load(source)
            if self._source_data.info.shape != info.shape:
                raise ValueError(f"flow_matching: the source {source} has examples of shape "
                                 f"{self._source_data.info.shape}, the data "
                                 f"{info.shape}")  # fmt: skip

    # ------------------------------------------------------------------ the two ends
    def draw_source(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n draws of x0 in the model's space: N(0, I), or the source dataset's training
        examples, uniformly with replacement."""
        shape = (n, *self.info.shape)
        if self._source_data is None:
            return rng.standard_normal(shape)
        examples = self._source_data.train
        return self.signal(examples[rng.integers(len(examples), size=n)]).astype(np.float64)

    def source_log_prob(self, x0: np.ndarray) -> np.ndarray:
        """log p_0(x0) per example: the Gaussian's, or the source dataset's exact density."""
        if self._source_data is None:
            return standard_normal_log_prob(x0)
        if self._source_data.log_density is None or self.info.kind != "continuous":
            raise ValueError(f"flow_matching: the source {self.hparams['source']} has no known "
                             "density, so the flow's likelihood is unknown")  # fmt: skip
        return self._source_data.log_density(x0)

    def couple(self, n: int, rng: np.random.Generator, sampler: str | None = None,
               steps: int | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """n pairs (x0, x1 = this flow's end from x0) in the model's space: the coupling a
        student rectifies (``set_pairs``)."""
        x0 = self.draw_source(n, rng)
        h = self.hparams
        x1, _ = ode.integrate(self.velocity, x0, 0.0, 1.0, sampler or h["sampler"],
                              steps or h["sample_steps"], h["rtol"], h["atol"])  # fmt: skip
        return x0, x1

    def set_pairs(self, x0: np.ndarray, x1: np.ndarray) -> None:
        """Keep the pairs a reflow student trains on (as many as its setting ``pairs``)."""
        if np.shape(x0) != self.pair_x0.shape or np.shape(x1) != self.pair_x1.shape:
            raise ValueError(f"flow_matching: set_pairs takes two arrays of shape "
                             f"{self.pair_x0.shape} (pairs={self.hparams['pairs']}), got "
                             f"{np.shape(x0)} and {np.shape(x1)}")  # fmt: skip
        self.pair_x0[...], self.pair_x1[...] = x0, x1

    # ------------------------------------------------------------------ the velocity
    def velocity_tensor(self, x: Tensor, t: np.ndarray, y: np.ndarray | None = None) -> Tensor:
        """v_theta(x, t, y), differentiable in x and the weights."""
        return self.network(x, TIME_SCALE * np.asarray(t, np.float64), y)

    def velocity(self, x: np.ndarray, t: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """v_theta(x, t, y) as a float64 ndarray, in the model's space."""
        return self.network_array(x, TIME_SCALE * np.asarray(t, np.float64), y)

    # ------------------------------------------------------------------ training
    def loss(self, x: Any, y: Any = None) -> Tensor:
        """L_CFM on the batch: x0 drawn from the source here, paired with the batch by the
        coupling (a conditional model's labels follow their examples), t ~ U(0, 1); a reflow
        student's batch is as many of its pairs, drawn uniformly."""
        h = self.hparams
        x1 = self.signal(x).astype(np.float64)
        labels = self.training_labels(y, len(x1))
        if h["coupling"] == "reflow":
            if labels is not None:
                raise ValueError("flow_matching: a reflow student is unconditional")
            chosen = self.rng.integers(h["pairs"], size=len(x1))
            x0, x1 = self.pair_x0[chosen], self.pair_x1[chosen]
            if not x0.any():  # the source's draws are never all zero: the pairs were never set
                raise ValueError("flow_matching: a reflow student trains on its teacher's "
                                 "pairs; give them by set_pairs(*teacher.couple(n, rng)) "
                                 "first")  # fmt: skip
        else:
            x0 = self.draw_source(len(x1), self.rng)
        if h["coupling"] == "ot":
            order = fm.minibatch_ot(x0, x1)
            x1 = x1[order]
            labels = None if labels is None else labels[order]
        t = self.rng.uniform(size=len(x1))

        def velocity(x_t: Tensor, times: np.ndarray) -> Tensor:
            return self.velocity_tensor(ad.astype(x_t, self.dtype), times, labels)

        return fm.flow_matching_loss(velocity, x0, x1, t, h["sigma"], h["path"], self.rng)

    # ------------------------------------------------------------------ likelihood
    def log_prob(self, x: Any, y: Any = None) -> Tensor:
        """log p(x) per example in nats, through the flow's ODE: exact on vectors (the trace by
        D backward passes), Hutchinson's trace (one Rademacher probe per solve) on images; on
        discrete data the dequantised bound on log P(x) above (one draw of u)."""
        y_data, offset = self.dequantized(x)
        labels = self.condition_labels(y, len(y_data))
        probe = self.likelihood_probe(y_data)

        def divergence(state: np.ndarray, t: np.ndarray) -> np.ndarray:
            return self.divergence(self.velocity_tensor, state, t, labels, probe)

        log_p, _ = ode.log_likelihood(functools.partial(self.velocity, y=labels), divergence,
                                      y_data, self.source_log_prob, self.hparams["rtol"],
                                      self.hparams["atol"])  # fmt: skip
        return Tensor(log_p - offset)

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, rng: np.random.Generator, sampler: str | None = None,
               steps: int | None = None, y: Any = None, guidance: float = 0.0,
               caption: Any = None, return_trajectory: bool = False,
               return_nfe: bool = False, x0: np.ndarray | None = None) -> Any:  # fmt: skip
        """n samples in data space: dx/dt = v_theta(x, t) from x0 drawn from the source (or
        the given ``x0``, in the model's space) at t = 0 to t = 1 by the settings' sampler
        (``"euler"``, ``"heun"`` or ``"adaptive"``) unless given, ``steps`` steps (the settings'
        ``sample_steps`` unless given) for the first two; a conditional model's under labels
        y (None: the null class), a captioned model's under ``caption``, with classifier-free
        ``guidance`` w. With ``return_trajectory`` also the states in the model's space, with
        ``return_nfe`` the number of network evaluations, in that order after the samples."""
        h = self.hparams
        shape = (n, *self.info.shape)
        if x0 is None:
            x0 = self.draw_source(n, rng)
        elif np.shape(x0) != shape:
            raise ValueError(f"flow_matching: x0 must have shape {shape}, got {np.shape(x0)}")
        y = self.given_condition(y, caption)
        velocity = self.guided(self.velocity, y, n, guidance)
        out = ode.integrate(velocity, x0, 0.0, 1.0, sampler or h["sampler"],
                            steps or h["sample_steps"], h["rtol"], h["atol"],
                            return_trajectory=return_trajectory)  # fmt: skip
        result = [self.from_signal(out[0])]
        if return_trajectory:
            result.append(out[2])
        if return_nfe:
            result.append(out[1] * (2 if guidance else 1))
        return result[0] if len(result) == 1 else tuple(result)
