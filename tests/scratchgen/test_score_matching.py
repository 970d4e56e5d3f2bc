"""Score matching's losses against what must hold: exact score matching is the Fisher divergence
less a constant that does not depend on the model (closed forms on Gaussians); sliced score
matching is unbiased for it, its variance-reduced form too and with less variance; denoising
score matching is minimised by the noised data's score, at its known constant; gradients in
the parameters by finite differences. Statistical checks state their false-failure rates."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff as ad
from scratchgen import score_matching as sm

# a mean of n draws differs from its expectation by more than Z standard errors with
# probability 1e-6 (two-sided, normal approximation; n is large)
Z = 4.89


def linear_score(A, m):
    """s(x) = -A (x - m), the score of N(m, A^-1) when A is symmetric positive definite."""
    return lambda x: -(x - ad.Tensor(m)) @ ad.Tensor(A.T)


class MLPScore:
    """s(x) = W2 tanh(W1 x + b1) + b2 in float64, its parameters as leaves."""

    def __init__(self, D, hidden, rng):
        shapes = [(D, hidden), (hidden,), (hidden, D), (D,)]
        self.params = [ad.Tensor(0.8 * rng.standard_normal(s), requires_grad=True) for s in shapes]

    def __call__(self, x, params=None):
        W1, b1, W2, b2 = params or self.params
        return ad.tanh(x @ W1 + b1) @ W2 + b2

    def numpy(self, x):
        W1, b1, W2, b2 = (p.data for p in self.params)
        return np.tanh(x @ W1 + b1) @ W2 + b2


def numerical_trace(fn, x, h=1e-5):
    total = np.zeros(len(x))
    for i in range(x.shape[1]):
        e = np.eye(x.shape[1])[i] * h
        total += (fn(x + e)[:, i] - fn(x - e)[:, i]) / (2 * h)
    return total


@settings(max_examples=20, deadline=None)
@given(D=st.integers(1, 3), seed=st.integers(0, 2**31 - 1))
def test_exact_score_matching_is_the_fisher_divergence_less_a_constant(D, seed):
    """Data N(mu, Sigma), model s(x) = -A (x - m) for any A. With P = Sigma^-1,

        1/2 E||s - grad log p||^2 = 1/2 [tr((P - A) Sigma (P - A)^T) + ||A (mu - m)||^2]

    and exact score matching's expectation is that less 1/2 tr(P), whatever A and m. The loss
    on 4000 samples is the mean of its closed-form terms to rounding (the trace of a linear
    map is tr(A)), and within Z standard errors of the Fisher divergence less the constant."""
    rng = np.random.default_rng(seed)
    L = rng.standard_normal((D, D))
    Sigma, mu = L @ L.T + 0.5 * np.eye(D), rng.standard_normal(D)
    A, m = rng.standard_normal((D, D)), rng.standard_normal(D)
    x = rng.multivariate_normal(mu, Sigma, size=4000)
    loss = sm.exact_score_matching(linear_score(A, m), x).item()
    terms = 0.5 * np.sum(((x - m) @ A.T) ** 2, axis=1) - np.trace(A)
    assert loss == pytest.approx(terms.mean(), rel=1e-10, abs=1e-10)
    P = np.linalg.inv(Sigma)
    fisher = 0.5 * (np.trace((P - A) @ Sigma @ (P - A).T) + np.sum((A @ (mu - m)) ** 2))
    assert abs(loss - (fisher - 0.5 * np.trace(P))) < Z * terms.std() / math.sqrt(len(x))


def test_exact_score_matching_of_a_nonlinear_score_and_its_parameter_gradients():
    rng = np.random.default_rng(0)
    score = MLPScore(3, 5, rng)
    x = rng.standard_normal((6, 3))
    loss = sm.exact_score_matching(score, x).item()
    s = score.numpy(x)
    expected = np.mean(0.5 * np.sum(s**2, axis=1) + numerical_trace(score.numpy, x))
    assert loss == pytest.approx(expected, rel=1e-8)
    ad.gradcheck(lambda *p: sm.exact_score_matching(lambda y: score(y, p), x), score.params)


def test_exact_score_matching_warns_of_its_cost_on_large_examples():
    x = np.zeros((2, sm.EXACT_TRACE_WARNING + 1))
    with pytest.warns(UserWarning, match="backward passes"):
        sm.exact_score_matching(lambda y: -y, x)


@pytest.mark.parametrize("distribution", ["gaussian", "rademacher"])
def test_sliced_score_matching_is_unbiased_and_variance_reduction_lowers_its_variance(
    distribution,
):
    """For fixed data, the mean of 600 independent sliced estimates (one projection each) is
    within Z standard errors of exact score matching, in both forms; the variance-reduced
    form's variance is below half the plain form's (here it is about a fifth)."""
    rng = np.random.default_rng(1)
    score = MLPScore(3, 8, rng)
    x = rng.standard_normal((8, 3))
    exact = sm.exact_score_matching(score, x).item()
    variances = {}
    for reduced in (False, True):
        draws = np.array([
            sm.sliced_score_matching(score, x, rng, distribution=distribution,
                                     variance_reduction=reduced).item()
            for _ in range(600)
        ])  # fmt: skip
        assert abs(draws.mean() - exact) < Z * draws.std() / math.sqrt(len(draws))
        variances[reduced] = draws.var()
    assert variances[True] < 0.5 * variances[False]


def test_more_projections_average_their_estimates():
    """projections=M runs the M copies as one batch: the same value as the mean of M single
    projections drawn in the same order (the directions are drawn as one (M n, D) array)."""
    score = MLPScore(2, 4, np.random.default_rng(2))
    x = np.random.default_rng(3).standard_normal((5, 2))
    together = sm.sliced_score_matching(score, x, np.random.default_rng(4), projections=3).item()
    v = np.random.default_rng(4).standard_normal((15, 2))
    s, J = score.numpy(np.tile(x, (3, 1))), []
    for row, (point, direction) in enumerate(zip(np.tile(x, (3, 1)), v)):
        f = lambda y, d=direction: score.numpy(y) @ d  # noqa: E731
        h = 1e-5
        grad = [(f(point + h * e) - f(point - h * e)) / (2 * h) for e in np.eye(2)]
        J.append(np.dot(grad, direction) + 0.5 * np.dot(s[row], direction) ** 2)
    assert together == pytest.approx(np.mean(J), rel=1e-7)


def test_sliced_and_denoising_losses_are_differentiable_in_the_parameters():
    score = MLPScore(2, 4, np.random.default_rng(5))
    x = np.random.default_rng(6).standard_normal((4, 2))
    for loss in (
        lambda f: sm.sliced_score_matching(f, x, np.random.default_rng(7), projections=2),
        lambda f: sm.denoising_score_matching(f, x, 0.3, np.random.default_rng(7)),
        lambda f: sm.noise_conditional_score_matching(lambda y, s: f(y) / ad.Tensor(s[:, None]),
                                                      x, [1.0, 0.1], np.random.default_rng(7)),
    ):  # fmt: skip
        ad.gradcheck(lambda *p, loss=loss: loss(lambda y: score(y, p)), score.params)


def noised_gaussian_score(mu, s2, sigma):
    """The score of N(mu, s2 I) blurred by N(0, sigma^2 I): -(x - mu) / (s2 + sigma^2)."""
    return lambda y, *_: -(y - ad.Tensor(mu)) / (s2 + np.asarray(sigma)[..., None] ** 2)


def test_denoising_score_matching_at_the_noised_score_is_its_known_constant():
    """Data N(mu, s2 I) in D = 2: at the noised data's score the loss is D / (2 sigma^2) -
    D / (2 (s2 + sigma^2)); at the clean data's score -(x - mu) / s2 it is higher by the
    Fisher divergence between the two, D/2 (1/s2 - 1/(s2 + sigma^2))^2 (s2 + sigma^2). Each
    check is within Z standard errors (the terms' spread estimated from an independent
    simulation of the same terms)."""
    rng = np.random.default_rng(8)
    D, mu, s2, sigma, n = 2, np.array([1.0, -2.0]), 0.5, 0.7, 200_000
    x = mu + math.sqrt(s2) * rng.standard_normal((n, D))
    at_noised = sm.denoising_score_matching(noised_gaussian_score(mu, s2, sigma), x, sigma,
                                            np.random.default_rng(9)).item()  # fmt: skip
    clean = lambda y: -(y - ad.Tensor(mu)) / s2  # noqa: E731
    at_clean = sm.denoising_score_matching(clean, x, sigma, np.random.default_rng(9)).item()
    z, x2 = rng.standard_normal((n, D)), mu + math.sqrt(s2) * rng.standard_normal((n, D))
    noisy = x2 + sigma * z
    spread_noised = (0.5 * np.sum((-(noisy - mu) / (s2 + sigma**2) + z / sigma) ** 2, 1)).std()
    gap_terms = 0.5 * np.sum((-(noisy - mu) / s2 + z / sigma) ** 2, 1)
    gap_terms -= 0.5 * np.sum((-(noisy - mu) / (s2 + sigma**2) + z / sigma) ** 2, 1)
    se_noised, se_gap = spread_noised / math.sqrt(n), gap_terms.std() / math.sqrt(n)
    assert abs(at_noised - (D / (2 * sigma**2) - D / (2 * (s2 + sigma**2)))) < Z * se_noised
    fisher = D / 2 * (1 / s2 - 1 / (s2 + sigma**2)) ** 2 * (s2 + sigma**2)
    assert abs(at_clean - at_noised - fisher) < Z * se_gap


def test_the_minimiser_of_denoising_score_matching_is_the_noised_score_of_a_mixture():
    """A 1-D mixture, 0.3 N(-2, 0.5^2) + 0.7 N(1.5, 0.5^2), noised by sigma = 0.5; the model
    is one free value per bin of x~ (60 bins on [-4, 4]), as flexible as the data allows, fitted
    by gradient descent on our loss with the noise held fixed (the same rng each step). In
    every well-filled bin the fit is the bin's mean of the closed-form noised score, within
    Z of the residual's standard errors, and is far from the clean data's score."""
    rng = np.random.default_rng(10)
    n, sigma, edges = 100_000, 0.5, np.linspace(-4, 4, 61)
    component = rng.random(n) < 0.3
    x = np.where(component, -2.0, 1.5) + 0.5 * rng.standard_normal(n)
    theta = ad.Tensor(np.zeros(60), requires_grad=True)
    seen = {}

    def binned(y):
        seen["x~"] = y.data[:, 0]
        bins = np.clip(np.digitize(y.data[:, 0], edges) - 1, 0, 59)
        return ad.reshape(theta[bins], (-1, 1))

    def loss():
        return sm.denoising_score_matching(binned, x[:, None], sigma, np.random.default_rng(11))

    loss()
    noisy = seen["x~"]
    counts = np.bincount(np.clip(np.digitize(noisy, edges) - 1, 0, 59), minlength=60)
    step = n / counts.max()  # the loss is sum_b counts_b (theta_b - target_b)^2 / (2 n)
    for _ in range(150):
        (g,) = ad.grad(loss(), theta)
        theta = ad.Tensor(theta.data - step * g.data, requires_grad=True)
    bins = np.clip(np.digitize(noisy, edges) - 1, 0, 59)
    z = (noisy - x) / sigma

    def mixture_score(y, var):
        means, weights = np.array([[-2.0], [1.5]]), np.array([[0.3], [0.7]])
        log_w = np.log(weights) - (y - means) ** 2 / (2 * var)
        r = np.exp(log_w - np.logaddexp.reduce(log_w, axis=0))
        return np.sum(r * -(y - means), axis=0) / var

    noised = mixture_score(noisy, 0.25 + sigma**2)
    clean = mixture_score(noisy, 0.25)
    full = counts >= 0.2 * counts.max()
    for scores, should_match in ((noised, True), (clean, False)):
        mean_b = np.bincount(bins, scores, 60)[full] / counts[full]
        residual = -z / sigma - scores
        spread = np.sqrt(np.bincount(bins, residual**2, 60)[full] / counts[full])
        within = np.abs(theta.data[full] - mean_b) < Z * spread / np.sqrt(counts[full])
        assert within.all() if should_match else within.mean() < 0.5


def test_noise_conditional_score_matching_weights_each_level_by_sigma_squared():
    """At the exact noised scores of N(mu, s2 I), E sigma^2 l(sigma) = D s2 / (2 (s2 + sigma^2))
    averaged over the levels; the levels reach the score function one per example, drawn
    from the list."""
    rng = np.random.default_rng(12)
    D, mu, s2, n, sigmas = 2, np.zeros(2), 0.3, 200_000, [2.0, 0.5, 0.05]
    x = math.sqrt(s2) * rng.standard_normal((n, D))
    seen = {}

    def score(y, sigma):
        seen["sigma"] = sigma
        return noised_gaussian_score(mu, s2, sigma)(y)

    loss = sm.noise_conditional_score_matching(score, x, sigmas, rng).item()
    assert seen["sigma"].shape == (n,) and set(np.unique(seen["sigma"])) == set(sigmas)
    expected = np.mean([D * s2 / (2 * (s2 + s**2)) for s in sigmas])
    # each weighted term is 1/2 ||sigma s + z||^2, a sum of D squares with spread below 1.5
    assert abs(loss - expected) < Z * 1.5 / math.sqrt(n)
    assert abs(loss - expected) < 0.01


def test_bad_inputs_are_one_line_errors():
    x, rng = np.zeros((4, 2)), np.random.default_rng(0)
    for call, message in [
        (lambda: sm.exact_score_matching(lambda y: y, np.zeros(3)), "shape \\(n, D\\)"),
        (lambda: sm.exact_score_matching(lambda y: y[:, :1], x), "x's shape"),
        (lambda: sm.sliced_score_matching(lambda y: y, x, rng, projections=0), "at least 1"),
        (lambda: sm.sliced_score_matching(lambda y: y, x, rng, distribution="t"), "'gaussian'"),
        (lambda: sm.denoising_score_matching(lambda y: y, x, -1.0, rng), "positive"),
        (lambda: sm.denoising_score_matching(lambda y: y, x, np.ones(3), rng), "one per example"),
        (lambda: sm.noise_conditional_score_matching(lambda y, s: y, x, [], rng), "non-empty"),
    ]:
        with pytest.raises(ValueError, match=message) as error:
            call()
        assert "\n" not in str(error.value)
    with pytest.raises(TypeError, match="floating point"):
        sm.denoising_score_matching(lambda y: y, np.zeros((2, 2), int), 1.0, rng)
