"""The score-based model in continuous time (Song et al. 2021, "Score-Based Generative Modeling
through SDEs"): a network f_theta(x, t) predicts the noise z of x_t = m(t) x_0 + s(t) z under
a VP, sub-VP or VE SDE's kernel, so that the score is

    s_theta(x, t) = -f_theta(x, t) / s(t),

trained by denoising score matching with the weight lambda(t) = s(t)^2 (the paper's eq. 7,
its "likelihood-free" weighting), which in terms of the noise reads

    L = E_{t ~ U(eps, 1), x_0, z} ||f_theta(m(t) x_0 + s(t) z, t) - z||^2,

and sampled by predictor-corrector, Euler-Maruyama, or the probability-flow ODE (adaptive
RK45 or fixed Heun), all in ``scratchgen.diffusion``. ``log_prob`` is the ODE model's exact
log-density (appendix D.2): flagged by ``has_bound``, because on discrete images it is taken
on uniformly dequantised data and so bounds the discrete log P(x) from below:

    y = 2 (x + u) / L - 1,  u ~ U[0, 1)^D,     -log P(x) <= -log p(y) + D log(L / 2)

(the cell of each level has width 2 / L in [-1, 1]; Theis et al. 2016). Its trace is exact
on vectors and Hutchinson's (one Rademacher probe per solve) on images.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen import diffusion
from scratchgen.data import DataInfo
from scratchgen.diffusion.sde import _column
from scratchgen.models.base import register
from scratchgen.models.diffusion.base import TIME_SCALE, DiffusionModel
from scratchgen.settings import Positive, Size

SAMPLERS = ("pc", "euler_maruyama", "ode", "heun")
TRAINING_EPS = 1e-5  # t ~ U(eps, 1) in training, as the paper's code


@register("score_sde", ("binary", "categorical", "continuous"),
          "score-based SDE model (Song et al. 2021): VP, sub-VP or VE; PC, Euler-Maruyama "
          "or probability-flow ODE sampling; exact likelihood through the ODE")  # fmt: skip
class ScoreSDE(DiffusionModel):
    has_bound = True

    def __init__(self, info: DataInfo, sde: Literal["vp", "subvp", "ve"] = "vp",
                 beta_min: Positive = 0.1, beta_max: Positive = 20.0,
                 sigma_min: Positive = 0.01, sigma_max: Positive = 50.0,
                 sampler: Literal["pc", "euler_maruyama", "ode", "heun"] = "pc",
                 sample_steps: Size = 1000, snr: Positive = 0.16, corrector_steps: Size = 1,
                 rtol: Positive = 1e-5, atol: Positive = 1e-5, **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, sde=sde, beta_min=beta_min, beta_max=beta_max,
                         sigma_min=sigma_min, sigma_max=sigma_max, sampler=sampler,
                         sample_steps=sample_steps, snr=snr, corrector_steps=corrector_steps,
                         rtol=rtol, atol=atol, **hparams)  # fmt: skip
        self.sde = (diffusion.VESDE(sigma_min, sigma_max) if sde == "ve"
                    else diffusion.SDES[sde](beta_min, beta_max))  # fmt: skip

    # ------------------------------------------------------------------ the score
    def _std(self, t: np.ndarray, like: Any) -> np.ndarray:
        return _column(self.sde.kernel(t)[1], like)

    def score_tensor(self, x: Tensor, t: np.ndarray, y: np.ndarray | None = None) -> Tensor:
        """s_theta(x, t, y) = -f_theta(x, t, y) / s(t), differentiable in x and the weights
        (y: labels with the null class K, or None if unconditional)."""
        scale = (-1 / self._std(t, x)).astype(self.dtype)
        return self.network(x, TIME_SCALE * t, y) * Tensor(scale)

    def score(self, x: np.ndarray, t: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """s_theta(x, t, y) as a float64 ndarray, in the model's space."""
        return -self.network_array(x, TIME_SCALE * t, y) / self._std(t, x)

    # ------------------------------------------------------------------ training
    def loss(self, x: Any, y: Any = None) -> Tensor:
        """E ||f_theta(x_t, t) - z||^2 over t ~ U(eps, 1), the mean over examples and numbers;
        a conditional model's labels are dropped to the null class at the rate p_uncond."""
        x0 = self.signal(x)
        labels = self.training_labels(y, len(x0))
        t = self.rng.uniform(TRAINING_EPS, self.sde.T, size=len(x0))
        x_t, z = self.sde.marginal_sample(x0, t, self.rng)
        prediction = self.network(Tensor(x_t.astype(self.dtype)), TIME_SCALE * t, labels)
        error = prediction - Tensor(z.astype(self.dtype))
        return ad.mean(error * error)

    # ------------------------------------------------------------------ likelihood
    def log_prob(self, x: Any, y: Any = None) -> Tensor:
        """log p(x) per example in nats through the probability-flow ODE: exact on vectors;
        on discrete data the dequantised bound on log P(x) above (one draw of u). A
        conditional model's is log p(x | y) (y None: the null class's p(x))."""
        y_data, offset = self.dequantized(x)
        labels = self.condition_labels(y, len(y_data))
        probe = self.likelihood_probe(y_data)
        log_p = diffusion.ode_log_likelihood(
            self.sde, functools.partial(self.score, y=labels), y_data, self.rng,
            "exact" if probe is None else "hutchinson", rtol=self.hparams["rtol"],
            atol=self.hparams["atol"],
            score_divergence=lambda x, t, z: self.divergence(self.score_tensor, x, t, labels,
                                                             z))  # fmt: skip
        return Tensor(log_p - offset)

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, rng: np.random.Generator, sampler: str | None = None,
               steps: int | None = None, return_trajectory: bool = False, y: Any = None,
               guidance: float = 0.0, caption: Any = None, classifier: Any = None,
               classifier_scale: float = 1.0, unconditional: bool = False) -> Any:  # fmt: skip
        """n samples in data space by the settings' sampler unless given: ``"pc"``
        (reverse diffusion + Langevin at the settings' snr), ``"euler_maruyama"``, ``"ode"``
        (RK45 at the settings' tolerances) or ``"heun"``; ``steps`` (the settings'
        ``sample_steps`` unless given) for all but the ODE; a conditional model's under labels
        y (None: the null class), a captioned model's under ``caption`` (None: the empty
        caption), with classifier-free ``guidance`` w, applied to the score as
        (1 + w) s(x, t, c) - w s(x, t) (the eps form divided by -s(t)); with a
        ``classifier`` (a ``NoisyClassifier``, of any DDPM schedule) also classifier guidance
        toward y at ``classifier_scale`` (``diffusion.sde_classifier_guided``), on the null
        class with ``unconditional``; with ``return_trajectory`` also the states in the
        model's space."""
        h = self.hparams
        sampler, steps = sampler or h["sampler"], steps or h["sample_steps"]
        if sampler not in SAMPLERS:
            raise ValueError(f"score_sde: sampler must be one of {SAMPLERS}, got {sampler!r}")
        shape, sde, traj = (n, *self.info.shape), self.sde, return_trajectory
        y = self.given_condition(y, caption)
        network_y = self.network_labels(y, guidance, unconditional, classifier)
        score = self.guided(self.score, network_y, n, guidance)
        if classifier is not None:
            score = diffusion.sde_classifier_guided(
                score, self.sde, classifier.schedule,
                lambda u, step: classifier.grad_log_prob(u, step, y), classifier_scale)  # fmt: skip
        if sampler == "pc":
            out = diffusion.predictor_corrector(sde, score, shape, rng, steps, h["snr"],
                                                h["corrector_steps"],
                                                return_trajectory=traj)  # fmt: skip
        elif sampler == "euler_maruyama":
            out = diffusion.euler_maruyama(sde, score, shape, rng, steps,
                                           return_trajectory=traj)  # fmt: skip
        elif sampler == "ode":
            out = diffusion.probability_flow_ode(sde, score, shape, rng, h["rtol"],
                                                 h["atol"], return_trajectory=traj)  # fmt: skip
        else:
            out = diffusion.probability_flow_heun(sde, score, shape, rng, steps,
                                                  return_trajectory=traj)  # fmt: skip
        if return_trajectory:
            return self.from_signal(out[0]), out[1]
        return self.from_signal(out)
