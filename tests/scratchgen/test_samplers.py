"""The samplers given an exact score or log-density reproduce their known targets; AIS is
unbiased for a known normalising constant. Seeds are fixed; each tolerance is stated."""

import math

import numpy as np
import pytest

from scratchgen import metrics, samplers

MU, S = 1.5, 0.7  # the 1-D Gaussian target N(MU, S^2)


def score(x):
    return -(x - MU) / S**2


def log_prob(x):
    return -np.sum((x - MU) ** 2, axis=1) / (2 * S**2)


def moments_within(x, mean, var, z=4.5):
    """Sample mean and variance of n independent draws within z standard errors of the truth
    (Gaussian: se(mean) = sqrt(var / n), se(var) = var sqrt(2 / (n - 1))); z = 4.5 makes a false
    failure about one in 10^5 per moment."""
    n = x.size
    assert abs(x.mean() - mean) < z * math.sqrt(var / n)
    assert abs(x.var(ddof=1) - var) < z * var * math.sqrt(2 / (n - 1))


def test_unadjusted_langevin_has_its_known_discretisation_bias():
    """x' = a x + sqrt(eps) z with a = 1 - eps / (2 S^2): the stationary variance is
    eps / (1 - a^2) = S^2 / (1 - eps / (4 S^2)), not S^2; chains from one point reach it."""
    eps = 0.2
    rng = np.random.default_rng(0)
    x = samplers.langevin(score, np.zeros((20000, 1)), eps, 300, rng)
    moments_within(x, MU, S**2 / (1 - eps / (4 * S**2)))
    with pytest.raises(AssertionError):  # the bias is visible at this sample size
        moments_within(x, MU, S**2)


def test_mala_removes_the_bias():
    rng = np.random.default_rng(1)
    x, path = samplers.langevin(score, np.zeros((4000, 1)), 0.2, 300, rng, log_prob=log_prob,
                                return_trajectory=True)  # fmt: skip
    moments_within(x, MU, S**2)
    assert path.shape == (301, 4000, 1) and np.array_equal(path[-1], x)
    moved = np.mean(path[1:] != path[:-1])
    assert 0.5 < moved < 1.0  # some proposals are refused: the correction is at work


def test_hmc_samples_a_correlated_gaussian():
    cov = np.array([[1.0, 0.8], [0.8, 1.0]])
    precision = np.linalg.inv(cov)

    def log_prob_and_grad(x):
        return -0.5 * np.einsum("ni,ij,nj->n", x, precision, x), -x @ precision

    rng = np.random.default_rng(2)
    x = samplers.hmc(log_prob_and_grad, np.full((3000, 2), 3.0), 0.25, 10, rng, steps=60)
    moments_within(x[:, 0], 0.0, 1.0)
    moments_within(x[:, 1], 0.0, 1.0)
    moments_within(x[:, 0] + x[:, 1], 0.0, 2 + 2 * 0.8)  # the correlation, through a sum


def test_hmc_with_a_huge_step_rejects_instead_of_exploding():
    rng = np.random.default_rng(3)
    start = np.zeros((100, 1)) + MU
    x = samplers.hmc(lambda y: (log_prob(y), score(y)), start, 50.0, 5, rng, steps=3)
    assert np.all(np.isfinite(x)) and np.mean(x == MU) > 0.9


def test_ais_estimates_a_known_normaliser_without_bias():
    """Prior N(0, 1), target f(x) = exp(-(x - 2)^2 / (2 * 0.5^2)) with Z_f = 0.5 sqrt(2 pi).
    E[w] = Z_f exactly; the mean of 2000 weights is within 4.5 standard errors of it, and the
    log of the mean is close to log Z_f while the mean of log w sits below it (Jensen)."""

    def log_prior(x):
        return -0.5 * np.sum(x**2, axis=1) - 0.5 * math.log(2 * math.pi)

    def log_target(x):
        return -np.sum((x - 2.0) ** 2, axis=1) / (2 * 0.25)

    prior_and_grad = lambda x: (log_prior(x), -x)  # noqa: E731
    target_and_grad = lambda x: (log_target(x), -(x - 2.0) / 0.25)  # noqa: E731
    transition = metrics.hmc_transition(prior_and_grad, target_and_grad, 0.3, leapfrog_steps=5)
    rng = np.random.default_rng(4)
    log_w = metrics.ais(log_prior, log_target, lambda r: r.standard_normal((2000, 1)),
                        transition, np.linspace(0, 1, 50), rng)  # fmt: skip
    Z = 0.5 * math.sqrt(2 * math.pi)
    w = np.exp(log_w)
    assert abs(w.mean() - Z) < 4.5 * w.std(ddof=1) / math.sqrt(len(w))
    assert metrics.log_mean_weight(log_w) == pytest.approx(math.log(Z), abs=0.05)
    assert log_w.mean() < math.log(Z)


def test_bad_arguments_are_one_line_errors():
    rng = np.random.default_rng(0)
    for call, message in [
        (lambda: samplers.langevin(score, np.zeros(3), 0.1, 1, rng), "shape \\(n, D\\)"),
        (lambda: samplers.langevin(score, np.zeros((3, 1)), 0.0, 1, rng), "step_size > 0"),
        (lambda: samplers.hmc(None, np.zeros((3, 1)), 0.1, 0, rng), "leapfrog_steps >= 1"),
        (lambda: metrics.ais(None, None, None, None, [0.0, 0.5], rng), "from 0 to 1"),
        (lambda: metrics.ais(None, None, None, None, [0.0, 0.7, 0.5, 1.0], rng), "increase"),
    ]:
        with pytest.raises(ValueError, match=message) as error:
            call()
        assert "\n" not in str(error.value)


def test_ais_recovers_the_exact_likelihood_of_probabilistic_pca():
    """The linear-Gaussian model has an exact log p(x); AIS from the prior to p(z) p(x | z)
    with 500 temperatures and 32 chains lands within 0.15 nats of it for every example (the
    error with this seed is 0.06), and far closer than with 10 temperatures."""
    from autodiff import no_grad
    from scratchgen import data, models

    model = models.create("linear_gaussian", data.DataInfo((3,), "continuous"), latent=2,
                          dtype=np.float64)  # fmt: skip
    rng = np.random.default_rng(0)
    model.W.data, model.b.data = rng.standard_normal((3, 2)), rng.standard_normal(3)
    model.log_sigma.data = np.array(np.log(0.5))
    x = 1.5 * rng.standard_normal((6, 3))
    with no_grad():
        exact = model.log_prob(x).data
    errors = {}
    for steps in (10, 500):
        estimate = metrics.ais_log_likelihood(model, x, np.random.default_rng(1), chains=32,
                                              steps=steps, step_size=0.1)  # fmt: skip
        errors[steps] = np.abs(estimate - exact)
    assert errors[500].max() < 0.15
    assert errors[500].mean() < errors[10].mean() / 2
