"""Expectation-maximisation for a mixture of K Gaussians, in closed form (NumPy, float64).

The mixture is the simplest latent-variable model: z_n in {1..K} picks the component that drew
x_n. EM alternates (Dempster, Laird & Rubin 1977; Bishop, "Pattern Recognition and Machine
Learning", 2006, section 9.2.2, eq. 9.23-9.28):

    E step   gamma_nk = pi_k N(x_n | mu_k, Sigma_k) / sum_j pi_j N(x_n | mu_j, Sigma_j)
    M step   N_k = sum_n gamma_nk          pi_k = N_k / N          mu_k = 1/N_k sum_n gamma_nk x_n
             Sigma_k = 1/N_k sum_n gamma_nk (x_n - mu_k)(x_n - mu_k)^T    (its diagonal for "diag")

and the log-likelihood sum_n log sum_k pi_k N(x_n | mu_k, Sigma_k) never decreases: the E step
makes the ELBO equal to it (q(z_n) = gamma_n is the exact posterior), and the M step raises the
ELBO (Bishop, section 9.4). ``reg`` is added to every variance so that a component that has
collapsed onto one point keeps a positive-definite covariance; it changes the M step slightly,
so the guarantee is then for the penalised objective, and in practice it holds to rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

COVARIANCES = ("full", "diag")


@dataclass
class MixtureParameters:
    """weights (K,), means (K, d), covariances (K, d, d) for "full" or variances (K, d) for
    "diag"."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    covariance: str = "full"


def log_joint(x: np.ndarray, params: MixtureParameters) -> np.ndarray:
    """log pi_k + log N(x_n | mu_k, Sigma_k), shape (n, K)."""
    d = x.shape[1]
    diff = x[:, None, :] - params.means[None]  # (n, K, d)
    if params.covariance == "diag":
        quadratic = np.sum(diff**2 / params.covariances[None], axis=-1)
        log_det = np.sum(np.log(params.covariances), axis=-1)
    else:
        L = np.linalg.cholesky(params.covariances)  # (K, d, d)
        z = np.linalg.solve(L[None], diff[..., None])[..., 0]  # L^{-1} (x - mu)
        quadratic = np.sum(z**2, axis=-1)
        log_det = 2 * np.sum(np.log(np.diagonal(L, axis1=-2, axis2=-1)), axis=-1)
    return np.log(params.weights) - 0.5 * (quadratic + log_det + d * math.log(2 * math.pi))


def e_step(x: np.ndarray, params: MixtureParameters) -> tuple[np.ndarray, float]:
    """Responsibilities gamma (n, K) and the log-likelihood sum_n log p(x_n) they come with."""
    joint = log_joint(x, params)
    log_px = logsumexp(joint, axis=1, keepdims=True)
    return np.exp(joint - log_px), float(log_px.sum())


def m_step(
    x: np.ndarray, gamma: np.ndarray, covariance: str, reg: float = 1e-6
) -> MixtureParameters:
    """The parameters that maximise the expected complete-data log-likelihood under gamma."""
    N_k = gamma.sum(axis=0) + 1e-12  # a component with no responsibility keeps finite means
    means = gamma.T @ x / N_k[:, None]
    diff = x[:, None, :] - means[None]  # (n, K, d)
    if covariance == "diag":
        covariances = np.einsum("nk,nkd->kd", gamma, diff**2) / N_k[:, None] + reg
    else:
        covariances = np.einsum("nk,nkd,nke->kde", gamma, diff, diff) / N_k[:, None, None]
        covariances += reg * np.eye(x.shape[1])
    return MixtureParameters(N_k / N_k.sum(), means, covariances, covariance)


def fit(x: np.ndarray, params: MixtureParameters, steps: int = 100, tol: float = 1e-8,
        reg: float = 1e-6) -> tuple[MixtureParameters, list[float]]:  # fmt: skip
    """EM from ``params`` until ``steps`` or until the mean log-likelihood gains less than
    ``tol``; returns the parameters and the mean log-likelihood before each M step and at
    the end (non-decreasing)."""
    if params.covariance not in COVARIANCES:
        raise ValueError(f"covariance must be 'full' or 'diag', got {params.covariance!r}")
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    history = []
    for _ in range(steps):
        gamma, log_likelihood = e_step(x, params)
        history.append(log_likelihood / len(x))
        if len(history) > 1 and history[-1] - history[-2] < tol:
            return params, history
        params = m_step(x, gamma, params.covariance, reg)
    history.append(e_step(x, params)[1] / len(x))
    return params, history
