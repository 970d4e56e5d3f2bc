"""Score matching: fitting a score s_theta(x) to grad_x log p(x) from samples of p alone,
without p's normaliser.

The target is the Fisher divergence 1/2 E_p ||s_theta(x) - grad log p(x)||^2, which needs the
unknown grad log p. Integration by parts (Hyvarinen 2005, theorem 1) removes it: up to a
constant that does not depend on theta, it equals

    J(theta) = E_p [ 1/2 ||s_theta(x)||^2 + tr(d s_theta / dx) ]         (exact, eq. 4)

whose trace costs D backward passes. Two ways around that cost:

- sliced (Song, Garg, Shi & Ermon 2019): the trace along random directions v with
  E[v v^T] = I, tr(J) = E_v [v^T J v], one backward pass per direction;
- denoising (Vincent 2011): match the score of the data blurred by N(0, sigma^2 I), whose
  regression target, grad log q(x~ | x) = -(x~ - x) / sigma^2, is known in closed form.

Every loss takes ``score_fn``, a function from a Tensor (n, ...) to a Tensor of the same
shape (an example's score must depend on that example alone), and data x (an ndarray or a
Tensor, taken as a constant), and returns the mean over examples, a scalar Tensor
differentiable in the score function's parameters. Norms and inner products are over all of
an example's numbers.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.traces import exact_trace

ScoreFn = Callable[[Tensor], Tensor]

# Exact score matching warns above this many backward passes per batch (an MNIST image: 784).
EXACT_TRACE_WARNING = 100


def _data(x: Any, name: str) -> np.ndarray:
    x = ad.as_constant(x).data
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"{name}: x must be a batch of shape (n, D) or (n, C, H, W), "
                         f"got {x.shape}")  # fmt: skip
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name}: x must be floating point, got {x.dtype}")
    return x


def _scores(score_fn: Callable[..., Tensor], x: Tensor, name: str, *args: Any) -> Tensor:
    s = score_fn(x, *args)
    if not isinstance(s, Tensor) or s.shape != x.shape:
        shape = getattr(s, "shape", type(s).__name__)
        raise ValueError(f"{name}: score_fn must return a Tensor of x's shape {x.shape}, "
                         f"got {shape}")  # fmt: skip
    return s


def _per_example_sum(a: Tensor) -> Tensor:
    return ad.sum(ad.reshape(a, (a.shape[0], -1)), axis=1)


def exact_score_matching(score_fn: ScoreFn, x: Any) -> Tensor:
    """Hyvarinen's objective (Hyvarinen 2005, "Estimation of Non-Normalized Statistical
    Models by Score Matching", eq. 4):

        J(theta) = E_x [ 1/2 ||s(x)||^2 + tr(ds/dx) ]
                 = 1/2 E ||s(x) - grad log p(x)||^2 - 1/2 E ||grad log p(x)||^2

    The trace takes D backward passes through the engine with ``create_graph`` (so that J is
    differentiable in theta), D being an example's size: 2 for the toys, 784 for an MNIST
    image, where it warns and ``sliced_score_matching`` costs one pass per projection."""
    x = _data(x, "exact_score_matching")
    D = x[0].size
    if D > EXACT_TRACE_WARNING:
        warnings.warn(f"exact_score_matching: the trace takes D = {D} backward passes per batch; "
                      "sliced_score_matching takes one per projection", stacklevel=2)  # fmt: skip
    with ad.enable_grad():
        leaf = Tensor(x, requires_grad=True)
        s = _scores(score_fn, leaf, "exact_score_matching")
        trace = exact_trace(s, leaf, create_graph=True)
        return ad.mean(0.5 * _per_example_sum(s * s) + trace)


def _projections(shape: tuple[int, ...], distribution: str, rng: np.random.Generator,
                 dtype: np.dtype) -> np.ndarray:  # fmt: skip
    if distribution == "gaussian":
        return rng.standard_normal(shape).astype(dtype)
    if distribution == "rademacher":
        return rng.choice(np.array([-1.0, 1.0], dtype=dtype), size=shape)
    raise ValueError(f"sliced_score_matching: distribution must be 'gaussian' or 'rademacher', "
                     f"got {distribution!r}")  # fmt: skip


def sliced_score_matching(score_fn: ScoreFn, x: Any, rng: np.random.Generator,
                          projections: int = 1,
                          distribution: Literal["gaussian", "rademacher"] = "gaussian",
                          variance_reduction: bool = False) -> Tensor:  # fmt: skip
    """Sliced score matching (Song, Garg, Shi & Ermon 2019, "Sliced Score Matching: A Scalable
    Approach to Density and Score Estimation", eqs. 7 and 8): with M = ``projections``
    directions v_m per example, drawn with E[v v^T] = I (standard normal or Rademacher),

        J = E_x (1/M) sum_m [ v_m^T (ds/dx) v_m + 1/2 (v_m^T s(x))^2 ]          (eq. 7)
        J_vr = E_x (1/M) sum_m [ v_m^T (ds/dx) v_m ] + 1/2 ||s(x)||^2             (eq. 8)

    Both are unbiased for exact score matching's J, since E_v[v^T A v] = tr(A) and
    E_v[(v^T s)^2] = ||s||^2; the second takes that last expectation in closed form and has
    the lower variance. v^T (ds/dx) v costs one backward pass: the gradient of v . s(x) with
    respect to x is v^T ds/dx, then dotted with v. The M copies of the batch go through
    score_fn together, as one batch of M n examples."""
    x = _data(x, "sliced_score_matching")
    if projections < 1:
        raise ValueError(f"sliced_score_matching: projections must be at least 1, got "
                         f"{projections}")  # fmt: skip
    repeated = np.concatenate([x] * projections) if projections > 1 else x
    v = _projections(repeated.shape, distribution, rng, x.dtype)
    with ad.enable_grad():
        leaf = Tensor(repeated, requires_grad=True)
        s = _scores(score_fn, leaf, "sliced_score_matching")
        v_s = _per_example_sum(s * v)
        (v_J,) = ad.grad(ad.sum(v_s), leaf, create_graph=True)
        v_J_v = _per_example_sum(v_J * v)
        square = _per_example_sum(s * s) if variance_reduction else v_s * v_s
        return ad.mean(v_J_v + 0.5 * square)


def _noise_levels(sigma: Any, n: int, name: str) -> np.ndarray:
    sigma = np.asarray(sigma, dtype=np.float64)
    if sigma.ndim > 1 or (sigma.ndim == 1 and sigma.shape != (n,)):
        raise ValueError(f"{name}: sigma must be a number or one per example ({n},), got "
                         f"shape {sigma.shape}")  # fmt: skip
    if not np.all(sigma > 0):
        raise ValueError(f"{name}: sigma must be positive, got {sigma.min()}")
    return np.broadcast_to(sigma, (n,))


def _denoising_terms(score_fn: Callable[..., Tensor], x: np.ndarray, sigma: np.ndarray,
                     rng: np.random.Generator, name: str, *args: Any) -> Tensor:  # fmt: skip
    """||s(x~) + z / sigma||^2 / 2 per example, x~ = x + sigma z: with
    (x~ - x) / sigma^2 = z / sigma. x~ is a leaf that requires grad, so that a score defined
    as -grad E of an energy can differentiate E at it."""
    shape = (-1,) + (1,) * (x.ndim - 1)
    z = rng.standard_normal(x.shape).astype(x.dtype)
    sigma_b = sigma.astype(x.dtype).reshape(shape)
    with ad.enable_grad():
        s = _scores(score_fn, Tensor(x + sigma_b * z, requires_grad=True), name, *args)
        r = s + z / sigma_b
        return 0.5 * _per_example_sum(r * r)


def denoising_score_matching(score_fn: ScoreFn, x: Any, sigma: Any,
                             rng: np.random.Generator) -> Tensor:  # fmt: skip
    """Denoising score matching (Vincent 2011, "A Connection Between Score Matching and
    Denoising Autoencoders", eq. 11 and section 4.2): with x~ = x + sigma z, z ~ N(0, I),

        J_DSM = E_{x, x~} 1/2 || s(x~) + (x~ - x) / sigma^2 ||^2

    the regression of s(x~) on grad log q(x~ | x). It equals the Fisher divergence to the
    noised data's score, 1/2 E_q ||s(x~) - grad log q_sigma(x~)||^2, plus a constant
    (D / (2 sigma^2) - 1/2 E_q ||grad log q_sigma||^2), so its minimiser is the score of the
    noised data q_sigma = p * N(0, sigma^2 I), not of p. ``sigma`` is one number, or one per
    example ((n,), for noise-conditional models); one z per example is drawn from ``rng``."""
    x = _data(x, "denoising_score_matching")
    sigma = _noise_levels(sigma, len(x), "denoising_score_matching")
    return ad.mean(_denoising_terms(score_fn, x, sigma, rng, "denoising_score_matching"))


def noise_conditional_score_matching(score_fn: Callable[[Tensor, np.ndarray], Tensor], x: Any,
                                     sigmas: Sequence[float], rng: np.random.Generator,
                                     ) -> Tensor:  # fmt: skip
    """NCSN's objective (Song & Ermon 2019, "Generative Modeling by Estimating Gradients of the
    Data Distribution", eqs. 5 and 6): denoising score matching at each of L noise levels,
    weighted by lambda(sigma) = sigma^2,

        L(theta) = (1/L) sum_i sigma_i^2 E 1/2 || s(x~, sigma_i) + (x~ - x) / sigma_i^2 ||^2

    with the weight chosen so that every term has the same magnitude (||s|| ~ 1 / sigma).
    Each example draws its level uniformly from ``sigmas``, as the paper's code does: an
    unbiased estimate of the sum. ``score_fn(x~, sigma)`` takes the noised batch and the
    level of each example, an ndarray (n,)."""
    x = _data(x, "noise_conditional_score_matching")
    sigmas = np.asarray(sigmas, dtype=np.float64)
    if sigmas.ndim != 1 or len(sigmas) == 0 or not np.all(sigmas > 0):
        raise ValueError("noise_conditional_score_matching: sigmas must be a non-empty list of "
                         "positive levels")  # fmt: skip
    sigma = sigmas[rng.integers(0, len(sigmas), len(x))]
    terms = _denoising_terms(score_fn, x, sigma, rng, "noise_conditional_score_matching",
                             sigma.astype(x.dtype))  # fmt: skip
    return ad.mean(terms * Tensor(sigma.astype(x.dtype) ** 2))
