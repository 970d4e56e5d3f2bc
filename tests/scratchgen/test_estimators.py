"""Gradient estimators: unbiased against closed forms, baselines lower the variance, and the
Gumbel tricks sample what they should.

Each unbiasedness check averages R independent estimates and allows 6 standard errors (a
false failure about once in 10^9 runs per component)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad
from scratchgen import distributions as D
from scratchgen import estimators
from scratchgen.testing import assert_chi_square_fits


def estimates(surrogate, params, replicates):
    """R gradient estimates of the surrogate, each flattened and concatenated: (R, P)."""
    rows = []
    for _ in range(replicates):
        grads = ad.grad(surrogate(), params)
        rows.append(np.concatenate([g.data.ravel() for g in grads]))
    return np.array(rows)


def assert_unbiased(rows, exact):
    se = rows.std(axis=0) / np.sqrt(len(rows))
    assert np.all(np.abs(rows.mean(axis=0) - exact) < 6 * se + 1e-9)


@given(mu=st.floats(-2, 2), log_sigma=st.floats(-1, 1), seed=st.integers(0, 2**32 - 1))
def test_pathwise_gradient_is_unbiased(mu, log_sigma, seed):
    """f(z) = z^2 + sin z under N(mu, sigma^2): E f = mu^2 + sigma^2 + sin(mu) e^{-sigma^2/2}."""
    loc, log_scale = ad.Tensor(mu, True), ad.Tensor(log_sigma, True)
    rng = np.random.default_rng(seed)
    sigma = np.exp(log_sigma)

    def surrogate():
        q = D.Normal(loc, ad.exp(log_scale))
        return estimators.pathwise(lambda z: z * z + ad.sin(z), q, 8, rng)

    damp = np.exp(-(sigma**2) / 2)
    d_sigma = 2 * sigma - np.sin(mu) * sigma * damp
    exact = [2 * mu + np.cos(mu) * damp, sigma * d_sigma]  # d/d log sigma = sigma d/d sigma
    assert_unbiased(estimates(surrogate, [loc, log_scale], 2000), exact)


COSTS = np.array([3.0, -1.0, 0.5, 2.0])


def categorical_case(seed):
    rng = np.random.default_rng(seed)
    logits = ad.Tensor(rng.standard_normal(4), True)
    p = np.exp(logits.data) / np.exp(logits.data).sum()
    exact = p * (COSTS - p @ COSTS)  # d/dlogits sum_k p_k c_k
    return logits, exact, rng


def cost(z, offset=0.0):
    return ad.Tensor(COSTS[np.asarray(z.data, dtype=int)] + offset)


@pytest.mark.parametrize("baseline", [0.0, 1.5, "leave_one_out"])
def test_score_function_gradient_is_unbiased_for_any_baseline(baseline):
    logits, exact, rng = categorical_case(0)

    def surrogate():
        return estimators.score_function(cost, D.Categorical(logits=logits), 4, rng, baseline)

    assert_unbiased(estimates(surrogate, [logits], 8000), exact)


def test_baselines_lower_the_score_function_variance():
    """With f = cost + 10 (a large mean, as a log-likelihood has), a constant baseline at E[f]
    and the leave-one-out baseline each cut the variance more than fivefold; the leave-one-out
    one needs no knowledge of E[f]."""
    logits, _, rng = categorical_case(1)

    def variance(baseline):
        rows = estimates(lambda: estimators.score_function(
            lambda z: cost(z, 10.0), D.Categorical(logits=logits), 4, rng, baseline),
            [logits], 3000)  # fmt: skip
        return rows.var(axis=0).sum()

    p = np.exp(logits.data) / np.exp(logits.data).sum()
    plain = variance(0.0)
    assert variance(float(p @ COSTS) + 10.0) < 0.2 * plain
    assert variance("leave_one_out") < 0.2 * plain


def test_pathwise_refuses_a_discrete_distribution():
    with pytest.raises(ValueError, match="no reparameterised sampler"):
        estimators.pathwise(lambda z: z, D.Categorical(logits=np.zeros(3)), 2,
                            np.random.default_rng(0))  # fmt: skip


def test_hard_gumbel_softmax_draws_follow_softmax_and_pass_the_soft_gradient():
    logits = np.array([1.0, -0.5, 0.2, 2.0])
    rng = np.random.default_rng(2)
    y = estimators.gumbel_softmax(np.broadcast_to(logits, (50_000, 4)), 0.7, rng, hard=True)
    assert set(np.unique(y.data)) == {0.0, 1.0} and np.all(y.data.sum(axis=1) == 1)
    p = np.exp(logits) / np.exp(logits).sum()
    assert_chi_square_fits(y.data.sum(axis=0), 50_000 * p)
    # straight-through: the gradient of <w, y_hard> is that of <w, y_soft> for the same noise
    weights = np.array([0.3, -1.0, 2.0, 0.5])

    def gradient(hard):
        t = ad.Tensor(logits, True)
        y = estimators.gumbel_softmax(t, 0.7, np.random.default_rng(3), hard)
        return ad.grad(ad.sum(y * weights), t)[0].data

    np.testing.assert_allclose(gradient(hard=True), gradient(hard=False))
    assert np.abs(gradient(hard=True)).sum() > 0


def test_soft_samples_approach_one_hot_as_the_temperature_falls():
    logits = np.zeros((2000, 5))
    for tau, floor in [(10.0, 0.0), (0.1, 0.9)]:
        y = estimators.gumbel_softmax(logits, tau, np.random.default_rng(4)).data
        np.testing.assert_allclose(y.sum(axis=1), 1.0)
        assert np.median(y.max(axis=1)) > floor
    assert np.median(y.max(axis=1)) > 0.99
    with pytest.raises(ValueError, match="temperature must be > 0"):
        estimators.gumbel_softmax(logits, 0.0, np.random.default_rng(0))


def test_gradient_variance_of_the_pathwise_estimator_matches_its_closed_form():
    """For f(z) = z^2, z = mu + sigma eps, one draw: d f / d mu = 2 (mu + sigma eps), whose
    variance is 4 sigma^2. The sample variance of 4000 draws is within 10% (about 4.5 of its
    standard errors)."""
    loc, sigma = ad.Tensor(0.7, True), 1.3
    rng = np.random.default_rng(5)
    variance = estimators.gradient_variance(
        lambda: estimators.pathwise(lambda z: z * z, D.Normal(loc, sigma), 1, rng), [loc], 4000
    )
    assert variance == pytest.approx(4 * sigma**2, rel=0.1)
    with pytest.raises(ValueError, match="draws >= 2"):
        estimators.gradient_variance(lambda: loc * 1.0, [loc], 1)
