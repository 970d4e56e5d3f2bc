"""The denoising diffusion probabilistic model (Ho, Jain & Abbeel 2020): a network f_theta(x_t,
t) trained by L_simple (eq. 14) to predict the noise eps (or x_0, or v: Salimans & Ho 2022),
or, with ``variance="learned"``, also the reverse variances, by Nichol & Dhariwal's hybrid
loss L_simple + lambda L_vlb (2021, eq. 16; lambda is the setting ``vlb_weight``), sampled by
the reverse chain (algorithm 2) or by DDIM on a subsequence of the steps (Song,
Meng & Ermon 2021), with log_prob the negative variational bound -L_vlb (eq. 5): a lower
bound on log P(x), flagged by ``has_bound``, for images through the discretised decoder on
the data's own levels (eq. 13), so that it is a probability's log and bits/dim compare with
the autoregressive models'. The mathematics is ``scratchgen.diffusion``'s; this file holds
the settings and the network.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen import diffusion, inverse
from scratchgen.data import DataInfo
from scratchgen.models.base import register
from scratchgen.models.diffusion.base import DiffusionModel
from scratchgen.models.signal import to_signal
from scratchgen.settings import NonNegative, Size

SAMPLERS = ("ancestral", "ddim", *diffusion.SIGMA_SOLVERS)


@register("ddpm", ("binary", "categorical", "continuous"),
          "denoising diffusion (Ho et al. 2020): L_simple, ancestral or DDIM sampling, "
          "log p bounded by the variational bound")  # fmt: skip
class DDPM(DiffusionModel):
    has_bound = True

    def __init__(self, info: DataInfo, noise_schedule: Literal["linear", "cosine"] = "linear",
                 timesteps: Size = 1000, parametrization: Literal["eps", "x0", "v"] = "eps",
                 variance: Literal["beta", "posterior", "learned"] = "beta",
                 vlb_weight: NonNegative = 0.001,
                 sampler: Literal["ancestral", "ddim", "sigma_euler", "edm_heun",
                                  "dpm_solver_pp_2m"] = "ancestral",
                 ddim_steps: Size = 50,
                 eta: float = 0.0, **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, noise_schedule=noise_schedule, timesteps=timesteps,
                         parametrization=parametrization, variance=variance,
                         vlb_weight=vlb_weight, sampler=sampler, ddim_steps=ddim_steps, eta=eta,
                         **hparams)  # fmt: skip
        # the schedule is arithmetic on the settings, not a parameter: no average touches it
        self.schedule = diffusion.NoiseSchedule(noise_schedule, timesteps)

    @property
    def learned(self) -> bool:
        return self.hparams["variance"] == "learned"

    def network_outputs(self) -> int:
        return 2 if self.learned else 1

    def predict(self, x_t: Tensor, t: np.ndarray, y: np.ndarray | None = None) -> Any:
        """f_theta(x_t, t, y): the parametrisation's prediction at step index t (n,) under
        labels y (the null class K included; None if unconditional), and with a learned
        variance the pair (prediction, v of Nichol & Dhariwal's eq. 15)."""
        out = self.network(x_t, t, y)
        if not self.learned:
            return out
        half = self.info.shape[0]  # the channels of an image, the numbers of a vector
        return out[:, :half], out[:, half:]

    def eps_and_log_variance(self, x_t: np.ndarray, t: np.ndarray,
                             y: np.ndarray | None = None) -> tuple[np.ndarray, ...]:  # fmt: skip
        """(eps_theta(x_t, t, y), log sigma_t^2) as ndarrays, whatever the network predicts;
        the log-variance is the settings' fixed one unless it is learned."""
        with ad.no_grad():
            out = self.predict(Tensor(np.asarray(x_t, self.dtype)), t, y)
        prediction, v = out if self.learned else (out, None)
        prediction = prediction.data.astype(np.float64)
        eps = self.schedule.to_x0_eps(prediction, x_t, t, self.hparams["parametrization"])[1]
        if v is None:
            return diffusion.reverse_parameters(self.schedule, self.hparams["variance"], eps,
                                                x_t, t, "ddpm")  # fmt: skip
        return eps, diffusion.learned_log_variance(self.schedule, v.data.astype(np.float64), t)

    def eps(self, x_t: np.ndarray, t: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """eps_theta(x_t, t, y) as an ndarray, whatever the network predicts."""
        return self.eps_and_log_variance(x_t, t, y)[0]

    def complete(self, operator: Any, y: Any, rng: np.random.Generator,
                 solver: Literal["replacement", "repaint", "dps"] = "replacement",
                 zeta: float = 1.0, steps: int | None = None, jump_length: int = 10,
                 resampling: int = 10) -> np.ndarray:  # fmt: skip
        """Samples x in data space given the measurement y = A x of data (one example per row
        of y, in the data's levels), by ``scratchgen.inverse``'s solvers on this model's chain:
        Song et al.'s replacement, RePaint (``resampling`` walks back up ``jump_length`` steps)
        or DPS at step ``zeta``; with ``steps``, on the chain respaced to that many levels
        (``NoiseSchedule.respaced``, the network called at the levels kept). A linear A maps
        the signal 2 x / top - 1 to 2 A(x) / top - A(1), which is how y is read in the model's
        space. A conditional model completes under its null class."""
        y = np.asarray(y, np.float64)
        shape = (len(y), *self.info.shape)
        if self.info.kind == "continuous":
            y_signal = y
        else:  # to_signal is x -> (2 / top) x - 1: A of it is to_signal(A x) + 1 - A(1)
            y_signal = to_signal(y, self.info) + 1.0 - operator.apply(np.ones(shape))
        schedule, eps_fn, eps_vjp = self._chain(steps, len(y))
        h = self.hparams
        clip = (-1.0, 1.0) if self.image else None
        if solver == "dps":
            out = inverse.dps(schedule, eps_fn, eps_vjp, shape, rng, operator, y_signal, zeta,
                              h["variance"], clip)  # fmt: skip
        elif solver in ("replacement", "repaint"):
            walk = {"jump_length": jump_length, "resampling": resampling}
            out = (inverse.impute(schedule, eps_fn, shape, rng, operator, y_signal,
                                  variance=h["variance"], clip=clip)
                   if solver == "replacement"
                   else inverse.repaint(schedule, eps_fn, shape, rng, operator, y_signal, **walk,
                                        variance=h["variance"], clip=clip))  # fmt: skip
        else:
            raise ValueError(f"ddpm: solver must be replacement, repaint or dps, got {solver!r}")
        return self.from_signal(out)

    def _chain(self, steps: int | None, n: int) -> tuple[Any, Any, Any]:
        """The schedule, eps_fn and eps_vjp of the unconditional chain: the model's own, or
        with ``steps`` the respaced schedule and the network called at tau[i] for level i."""
        eps_fn = self._reverse_fn(None, n)
        if steps is None or steps == self.schedule.T:
            return self.schedule, eps_fn, self.eps_vjp
        if self.learned:  # its variance interpolates between the trained schedule's bounds
            raise ValueError("ddpm: a learned variance belongs to the trained schedule; "
                             "complete on its own steps (steps=None)")  # fmt: skip
        schedule, tau = self.schedule.respaced(steps)
        return (schedule, lambda x, t: eps_fn(x, tau[t]),
                lambda x, t, v: self.eps_vjp(x, tau[t], v))  # fmt: skip

    def eps_vjp(self, x_t: np.ndarray, t: np.ndarray, v: np.ndarray,
                y: Any = None) -> np.ndarray:  # fmt: skip
        """v^T d eps_theta(x_t, t, y) / dx_t, by one backward pass through the engine: what
        diffusion posterior sampling (``scratchgen.inverse.dps``) needs of a model."""
        labels = self.condition_labels(y, len(x_t))
        with ad.enable_grad():
            inputs = Tensor(np.asarray(x_t, self.dtype), requires_grad=True)
            out = self.predict(inputs, t, labels)
            prediction = out[0] if self.learned else out
            eps = self.schedule.to_x0_eps(prediction, inputs, t, self.hparams["parametrization"])[1]
            (grad,) = ad.grad(ad.sum(eps * Tensor(np.asarray(v, self.dtype))), [inputs])
        return grad.data.astype(np.float64)

    def denoiser(self) -> diffusion.VPDenoiser:
        """EDM's D(x; sigma) of this unconditional model on its own levels, in the
        variance-exploding variables x = x_t / sqrt(alpha_bar_t) (images' x_0 estimates clipped
        to [-1, 1]): what a consistency model distils."""
        if self.conditional or self.captioned:
            raise ValueError("ddpm: denoiser() reads an unconditional model; this one is "
                             "conditional")  # fmt: skip
        clip = (-1.0, 1.0) if self.image else None
        return diffusion.VPDenoiser(self.schedule, self._reverse_fn(None, 0, variance=False), clip)

    def _sigma_solve(self, sampler: str, eps_fn: Any, shape: tuple, rng: np.random.Generator,
                     steps: int, clip: tuple[float, float] | None,
                     return_trajectory: bool) -> Any:  # fmt: skip
        """One of ``diffusion.SIGMA_SOLVERS`` on Karras et al.'s grid (rho = 7) of ``steps``
        levels between the schedule's sigma_1 and sigma_T, moved onto the schedule's levels
        (repeats dropped), then 0; from the VP prior's x_T ~ N(0, I), which is x_T / sqrt(
        alpha_bar_T) in sigma's variables. A trajectory comes back in the model's space,
        x_t = x / sqrt(1 + sigma^2)."""
        denoiser = diffusion.VPDenoiser(self.schedule, eps_fn, clip)
        sigmas = denoiser.snap(diffusion.karras_sigmas(steps, denoiser.sigma_min,
                                                       denoiser.sigma_max))  # fmt: skip
        x_T = rng.standard_normal(shape) / np.sqrt(self.schedule.alpha_bar[-1])
        out = diffusion.SIGMA_SOLVERS[sampler](denoiser, shape, rng, sigmas, x_T=x_T,
                                               return_trajectory=return_trajectory)  # fmt: skip
        if not return_trajectory:
            return out
        x, states = out
        return x, states / np.sqrt(1 + sigmas**2).reshape((-1,) + (1,) * len(shape))

    def _bins(self) -> int | None:
        """The decoder's levels: the data's own, or None (a density) for vectors."""
        if self.info.kind == "continuous":
            return None
        return 2 if self.info.kind == "binary" else self.info.levels or 256

    def loss(self, x: Any, y: Any = None) -> Tensor:
        """L_simple, the mean squared error of the prediction at a uniform step (eq. 14), or
        with a learned variance L_hybrid (Nichol & Dhariwal eq. 16); a conditional model's
        labels are dropped to the null class at the rate p_uncond."""
        h, x0 = self.hparams, self.signal(x)
        labels = self.training_labels(y, len(x0))

        def predict(x_t: Tensor, t: np.ndarray) -> Any:
            return self.predict(x_t, t, labels)

        if self.learned:
            return diffusion.hybrid_loss(predict, x0, self.schedule, self.rng, h["vlb_weight"],
                                         self._bins(), h["parametrization"])  # fmt: skip
        return diffusion.simple_loss(predict, x0, self.schedule, self.rng, h["parametrization"])

    def _reverse_fn(self, y: Any, n: int, guidance: float = 0.0, classifier: Any = None,
                    classifier_scale: float = 1.0, unconditional: bool = False,
                    variance: bool = True) -> Any:  # fmt: skip
        """What the bound and the chains call, for n examples under labels y: eps (or with
        ``variance`` and a learned one, (eps, log sigma^2)), with classifier-free guidance at
        weight ``guidance`` and, given a ``NoisyClassifier``, classifier guidance at scale
        ``classifier_scale`` toward y (Dhariwal & Nichol eq. 14), the network then under y or,
        ``unconditional``, under the null class."""
        fn = self.eps_and_log_variance if self.learned and variance else self.eps
        network_y = self.network_labels(y, guidance, unconditional, classifier)
        eps_fn = self.guided(fn, network_y, n, guidance)
        if classifier is None:
            return eps_fn
        if not np.array_equal(classifier.schedule.alpha_bar, self.schedule.alpha_bar):
            schedule = f"{classifier.schedule.kind}, {classifier.schedule.T} steps"
            raise ValueError(f"ddpm: the classifier was trained on another noise schedule "
                             f"({schedule})")  # fmt: skip
        return diffusion.classifier_guided(
            eps_fn, self.schedule, lambda x, t: classifier.grad_log_prob(x, t, y),
            classifier_scale)  # fmt: skip

    def log_prob(self, x: Any, y: Any = None) -> Tensor:
        """-L_vlb per example, in nats: a lower bound on log P(x) (discrete data, decoder on
        the data's levels) or on log p(x) (vectors, a Gaussian decoder), given y for a
        conditional model (log p(x | y); y None: the null class's p(x)), a captioned model's
        y its captions. T network passes."""
        bins, x0 = self._bins(), self.signal(x)
        bound = diffusion.variational_bound(
            self.schedule, self._reverse_fn(y, len(x0)), x0, self.rng,
            decoder="gaussian" if bins is None else "discretized", bins=bins or 256,
            variance=self.hparams["variance"])  # fmt: skip
        return Tensor(-bound["total"])

    def sample(self, n: int, rng: np.random.Generator, sampler: str | None = None,
               steps: int | None = None, eta: float | None = None,
               return_trajectory: bool = False, y: Any = None, guidance: float = 0.0,
               classifier: Any = None, classifier_scale: float = 1.0,
               unconditional: bool = False, given: Any = None, mask: Any = None,
               caption: Any = None) -> Any:  # fmt: skip
        """n samples in data space by the settings' sampler unless given: ``"ancestral"`` (T
        steps) or ``"ddim"`` (``steps`` of the subsequence, the settings' ``ddim_steps`` or
        all T if fewer, and ``eta``); a conditional model's under labels y (one per sample,
        or one for all; None: the null class), a captioned model's under ``caption`` (one, or
        one per sample; None: the empty caption), with classifier-free ``guidance`` w (two
        network passes a step when w > 0); with a ``classifier`` (a ``NoisyClassifier`` on
        this schedule) also classifier guidance toward y at ``classifier_scale`` s, which
        works on an unconditional model too, and with ``unconditional`` on a conditional
        model's null class (y then names only the classifier's target); with
        ``return_trajectory`` also the states in the model's space. With ``given`` and a bool
        ``mask`` (True = observed, broadcast to the examples' shape), the observed values are
        kept and the rest completed by replacement, as the autoregressive models do (see
        ``complete`` for RePaint, DPS and other measurements)."""
        y = self.given_condition(y, caption)
        if given is not None:
            if mask is None:
                raise ValueError("ddpm: a given observation needs a mask saying which values "
                                 "are observed")  # fmt: skip
            if y is not None or guidance or classifier is not None or return_trajectory:
                raise ValueError("ddpm: completion (given=) takes no labels, guidance or "
                                 "trajectory; see complete() and scratchgen.inverse")  # fmt: skip
            operator = inverse.Inpaint(np.broadcast_to(np.asarray(mask, bool), self.info.shape))
            x = np.broadcast_to(np.asarray(given, np.float64), (n, *self.info.shape))
            return self.complete(operator, operator.apply(x), rng)
        h = self.hparams
        sampler = sampler or h["sampler"]
        if sampler not in SAMPLERS:
            raise ValueError(f"ddpm: sampler must be one of {SAMPLERS}, got {sampler!r}")
        shape, clip = (n, *self.info.shape), ((-1.0, 1.0) if self.image else None)
        if sampler == "ancestral":
            reverse = self._reverse_fn(y, n, guidance, classifier, classifier_scale,
                                       unconditional)  # fmt: skip
            out = diffusion.ddpm_ancestral(self.schedule, reverse, shape, rng, h["variance"],
                                           clip, return_trajectory=return_trajectory)  # fmt: skip
        else:
            steps = steps or min(h["ddim_steps"], self.schedule.T)  # a short chain's whole
            eps = self._reverse_fn(y, n, guidance, classifier, classifier_scale, unconditional,
                                   variance=False)  # fmt: skip
            if sampler == "ddim":
                out = diffusion.ddim(self.schedule, eps, shape, rng, steps,
                                     h["eta"] if eta is None else eta, clip,
                                     return_trajectory=return_trajectory)  # fmt: skip
            else:
                out = self._sigma_solve(sampler, eps, shape, rng, steps, clip, return_trajectory)
        if return_trajectory:
            return self.from_signal(out[0]), out[1]
        return self.from_signal(out)
