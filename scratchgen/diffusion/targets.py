"""Data whose noised scores are closed forms, for checking samplers and likelihoods with no
training: a Gaussian N(mu, Sigma) and a mixture of isotropic Gaussians. Noising by
x_t = m x_0 + s z (any SDE's kernel, or a DDPM step with m = sqrt(alpha_bar), s = sqrt(1 -
alpha_bar)) keeps each Gaussian Gaussian:

    N(mu, Sigma)  ->  N(m mu, m^2 Sigma + s^2 I),   score  -(m^2 Sigma + s^2 I)^{-1} (x - m mu)
    sum_k w_k N(c_k, tau^2 I)  ->  sum_k w_k N(m c_k, (m^2 tau^2 + s^2) I),
                           score  sum_k r_k(x) (m c_k - x) / (m^2 tau^2 + s^2)

with r_k(x) the posterior of component k under the noised mixture. The noise a DDPM predicts
is eps = E[z | x_t] = -s grad log p_t(x_t) (Tweedie's formula), so the same closed form gives
the exact eps_fn.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import special

from scratchgen.diffusion.schedule import NoiseSchedule
from scratchgen.diffusion.sde import LOG_2PI, SDE

Array = np.ndarray


class _NoisedData:
    """The shared part: the score at any (m, s), and the functions samplers take."""

    dims: int

    def noised_score(self, x: Array, m: Array, s: Array) -> Array:
        raise NotImplementedError

    def _points(self, x: Array) -> Array:
        x = np.asarray(x, np.float64)
        if x.ndim != 2 or x.shape[1] != self.dims:
            raise ValueError(f"{type(self).__name__}: points must be (n, {self.dims}), got "
                             f"{x.shape}")  # fmt: skip
        return x

    def sde_score(self, sde: SDE) -> Callable[[Array, Array], Array]:
        """score_fn(x, t) = grad log p_t(x) exactly, for the SDE's kernel."""

        def score_fn(x: Array, t: Array) -> Array:
            m, s = sde.kernel(sde.times(t, len(x)))
            return self.noised_score(x, m, s)

        return score_fn

    def schedule_eps(self, schedule: NoiseSchedule) -> Callable[[Array, Array], Array]:
        """eps_fn(x, t) = E[eps | x_t = x] = -sqrt(1 - alpha_bar_t) grad log q(x_t) exactly."""

        def eps_fn(x: Array, t: Array) -> Array:
            index = schedule.index(t, len(x))
            m, s = np.sqrt(schedule.alpha_bar[index]), np.sqrt(1 - schedule.alpha_bar[index])
            return -s[:, None] * self.noised_score(x, m, s)

        return eps_fn

    def denoiser(self) -> Callable[[Array, Array], Array]:
        """D(x, sigma) = E[x_0 | x_0 + sigma z = x] = x + sigma^2 grad log p_sigma(x) (Tweedie's
        formula), the denoiser of the variance-exploding process (Karras et al. 2022, eq. 3)."""

        def denoiser_fn(x: Array, sigma: Array) -> Array:
            sigma = np.broadcast_to(np.asarray(sigma, np.float64), (len(x),))
            return x + sigma[:, None] ** 2 * self.noised_score(x, np.ones(len(x)), sigma)

        return denoiser_fn


class GaussianData(_NoisedData):
    """N(mean, cov) in D dimensions."""

    def __init__(self, mean: Array, cov: Array) -> None:
        self.mean = np.asarray(mean, np.float64)
        self.cov = np.asarray(cov, np.float64)
        self.dims = len(self.mean)
        if self.mean.ndim != 1 or self.cov.shape != (self.dims, self.dims):
            raise ValueError(f"GaussianData: need a mean (D,) and a covariance (D, D), got "
                             f"{self.mean.shape} and {self.cov.shape}")  # fmt: skip
        self.eigenvalues, self.eigenvectors = np.linalg.eigh(self.cov)
        if self.eigenvalues.min() <= 0 or not np.allclose(self.cov, self.cov.T):
            raise ValueError("GaussianData: the covariance must be symmetric positive definite")

    def sample(self, n: int, rng: np.random.Generator) -> Array:
        return rng.multivariate_normal(self.mean, self.cov, size=n)

    def noised(self, m: float, s: float) -> tuple[Array, Array]:
        """The law of m x_0 + s z: its mean and covariance."""
        return m * self.mean, m**2 * self.cov + s**2 * np.eye(self.dims)

    def noised_score(self, x: Array, m: Array, s: Array) -> Array:
        x, m, s = self._points(x), np.asarray(m)[:, None], np.asarray(s)[:, None]
        # in Sigma's eigenbasis the noised covariance is diagonal, one per example
        y = (x - m * self.mean) @ self.eigenvectors
        return -(y / (m**2 * self.eigenvalues + s**2)) @ self.eigenvectors.T

    def schedule_eps_vjp(self, schedule: NoiseSchedule) -> Callable[[Array, Array, Array], Array]:
        """(x, t, v) -> v^T d eps / dx at step index t: eps = s Sigma_t^-1 (x - m mu) is affine
        in x, so this is s Sigma_t^-1 v, Sigma_t = m^2 Sigma + s^2 I (symmetric)."""

        def vjp_fn(x: Array, t: Array, v: Array) -> Array:
            index = schedule.index(t, len(x))
            m, s = np.sqrt(schedule.alpha_bar[index]), np.sqrt(1 - schedule.alpha_bar[index])
            # the score at v + m mu is -Sigma_t^-1 v
            return -s[:, None] * self.noised_score(np.asarray(v) + m[:, None] * self.mean, m, s)

        return vjp_fn

    def flow(self, x: Array, sigma_from: float, sigma_to: float) -> Array:
        """The exact solution of the probability-flow ODE dx/dsigma = -sigma grad log p_sigma(x)
        from sigma_from to sigma_to: in Sigma's eigenbasis each coordinate's distance from the
        mean scales by sqrt((lambda + sigma_to^2) / (lambda + sigma_from^2))."""
        y = (self._points(x) - self.mean) @ self.eigenvectors
        ratio = np.sqrt((self.eigenvalues + sigma_to**2) / (self.eigenvalues + sigma_from**2))
        return self.mean + (y * ratio) @ self.eigenvectors.T

    def log_prob(self, x: Array) -> Array:
        """log N(x; mean, cov), (n,)."""
        y = (self._points(x) - self.mean) @ self.eigenvectors
        return -0.5 * (np.sum(y**2 / self.eigenvalues, axis=1) + np.sum(np.log(self.eigenvalues))
                       + self.dims * LOG_2PI)  # fmt: skip


class GaussianMixtureData(_NoisedData):
    """sum_k w_k N(c_k, std^2 I), centres (K, D), equal weights unless given."""

    def __init__(self, centres: Array, std: float, weights: Array | None = None) -> None:
        self.centres = np.asarray(centres, np.float64)
        if self.centres.ndim != 2 or std <= 0:
            raise ValueError(f"GaussianMixtureData: need centres (K, D) and std > 0, got "
                             f"{self.centres.shape} and {std}")  # fmt: skip
        K, self.dims = self.centres.shape
        self.std = float(std)
        self.weights = np.full(K, 1 / K) if weights is None else np.asarray(weights, np.float64)
        if self.weights.shape != (K,) or np.any(self.weights <= 0) \
                or not np.isclose(self.weights.sum(), 1):  # fmt: skip
            raise ValueError(f"GaussianMixtureData: weights must be {K} positive numbers summing "
                             f"to 1")  # fmt: skip

    def sample(self, n: int, rng: np.random.Generator) -> Array:
        k = rng.choice(len(self.centres), size=n, p=self.weights)
        return self.centres[k] + self.std * rng.standard_normal((n, self.dims))

    def _log_joint(self, x: Array, m: Array, s: Array) -> tuple[Array, Array]:
        """log w_k + log N(x; m c_k, v I) per point and component, and v = m^2 std^2 + s^2."""
        x, m, s = self._points(x), np.asarray(m)[:, None], np.asarray(s)[:, None]
        v = m**2 * self.std**2 + s**2
        squared = np.sum((x[:, None, :] - m[:, :, None] * self.centres[None]) ** 2, axis=-1)
        return (np.log(self.weights) - squared / (2 * v)
                - 0.5 * self.dims * (LOG_2PI + np.log(v))), v  # fmt: skip

    def noised_score(self, x: Array, m: Array, s: Array) -> Array:
        log_joint, v = self._log_joint(x, m, s)
        r = special.softmax(log_joint, axis=1)
        return (np.asarray(m)[:, None] * (r @ self.centres) - x) / v

    def log_prob(self, x: Array) -> Array:
        n = len(np.asarray(x))
        return special.logsumexp(self._log_joint(x, np.ones(n), np.zeros(n))[0], axis=1)

    def component(self, k: int) -> GaussianMixtureData:
        """The data of class k, when each component is a class: N(c_k, std^2 I)."""
        return GaussianMixtureData(self.centres[[k]], self.std)

    def schedule_posterior(self, schedule: NoiseSchedule) -> Callable[[Array, Array], Array]:
        """q(k | x_t) (n, K) at step index t: the exact noisy classifier when each component
        is a class, whose argmax is the Bayes-optimal accuracy at that noise level."""

        def posterior_fn(x: Array, t: Array) -> Array:
            index = schedule.index(t, len(x))
            m, s = np.sqrt(schedule.alpha_bar[index]), np.sqrt(1 - schedule.alpha_bar[index])
            return special.softmax(self._log_joint(x, m, s)[0], axis=1)

        return posterior_fn

    def schedule_classifier_grad(self, schedule: NoiseSchedule,
                                 k: int) -> Callable[[Array, Array], Array]:  # fmt: skip
        """grad_x log q(k | x_t) at step index t, the exact noisy classifier's gradient when
        each component is a class: the component's score less the mixture's,
        (m c_k - x) / v - grad log q(x_t)."""

        def grad_fn(x: Array, t: Array) -> Array:
            index = schedule.index(t, len(x))
            m, s = np.sqrt(schedule.alpha_bar[index]), np.sqrt(1 - schedule.alpha_bar[index])
            v = (m**2 * self.std**2 + s**2)[:, None]
            return (m[:, None] * self.centres[k] - x) / v - self.noised_score(x, m, s)

        return grad_fn
