"""MultivariateNormal against scipy's, its sampler's moments, its entropy and closed-form KL
against Monte Carlo, and its gradients against finite differences.

Monte Carlo checks use fixed seeds and a 6-standard-error bound: a false failure about once
in 10^9 runs per check.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import autodiff as ad
from scratchgen import distributions as D


def random_tril(rng, d, batch=()):
    """A lower-triangular factor with a positive diagonal, well conditioned."""
    L = np.tril(rng.standard_normal(batch + (d, d))) * 0.5
    idx = np.arange(d)
    L[..., idx, idx] = np.exp(0.3 * rng.standard_normal(batch + (d,)))
    return L


def within_6_se(samples, expected):
    se = samples.std(axis=0) / np.sqrt(len(samples))
    assert np.all(np.abs(samples.mean(axis=0) - expected) < 6 * se + 1e-12)


@given(d=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_log_prob_and_entropy_match_scipy(d, seed):
    rng = np.random.default_rng(seed)
    loc, L = rng.standard_normal(d), random_tril(rng, d)
    x = rng.standard_normal((5, d))
    mvn = D.MultivariateNormal(loc, scale_tril=L)
    reference = stats.multivariate_normal(loc, L @ L.T)
    np.testing.assert_allclose(mvn.log_prob(x).data, reference.logpdf(x), rtol=1e-10)
    np.testing.assert_allclose(mvn.entropy().data, reference.entropy(), rtol=1e-10)
    from_cov = D.MultivariateNormal(loc, covariance_matrix=L @ L.T)
    np.testing.assert_allclose(from_cov.log_prob(x).data, reference.logpdf(x), rtol=1e-10)


def test_batched_parameters_broadcast_against_the_points():
    rng = np.random.default_rng(1)
    loc, L = rng.standard_normal((3, 2)), random_tril(rng, 2, (3,))
    x = rng.standard_normal((4, 1, 2))  # four points against three distributions
    out = D.MultivariateNormal(loc, scale_tril=L).log_prob(x).data
    assert out.shape == (4, 3)
    for k in range(3):
        expected = stats.multivariate_normal(loc[k], L[k] @ L[k].T).logpdf(x[:, 0])
        np.testing.assert_allclose(out[:, k], expected, rtol=1e-10)


def test_rsample_has_the_right_mean_and_covariance():
    rng = np.random.default_rng(2)
    loc, L = np.array([1.0, -2.0, 0.5]), random_tril(rng, 3)
    x = D.MultivariateNormal(loc, scale_tril=L).sample((200_000,), rng=rng)
    within_6_se(x, loc)
    centred = x - loc
    outer = (centred[:, :, None] * centred[:, None, :]).reshape(len(x), -1)
    within_6_se(outer, (L @ L.T).ravel())


def test_closed_form_kl_matches_monte_carlo():
    rng = np.random.default_rng(3)
    p = D.MultivariateNormal(rng.standard_normal(3), scale_tril=random_tril(rng, 3))
    q = D.MultivariateNormal(rng.standard_normal(3), scale_tril=random_tril(rng, 3))
    x = p.sample((200_000,), rng=rng)
    log_ratio = p.log_prob(x).data - q.log_prob(x).data
    within_6_se(log_ratio[:, None], np.atleast_1d(D.kl_divergence(p, q).data))
    assert D.kl_divergence(p, p).item() == pytest.approx(0.0, abs=1e-12)


def test_diagonal_case_agrees_with_independent_normals():
    rng = np.random.default_rng(4)
    loc, scale = rng.standard_normal(3), np.exp(rng.standard_normal(3))
    mvn = D.MultivariateNormal(loc, scale_tril=np.diag(scale))
    diag = D.Independent(D.Normal(loc, scale), 1)
    x = rng.standard_normal((6, 3))
    np.testing.assert_allclose(mvn.log_prob(x).data, diag.log_prob(x).data, rtol=1e-12)
    other = D.MultivariateNormal(np.zeros(3), scale_tril=np.eye(3))
    other_diag = D.Independent(D.Normal(np.zeros(3), np.ones(3)), 1)
    np.testing.assert_allclose(D.kl_divergence(mvn, other).data,
                               D.kl_divergence(diag, other_diag).data, rtol=1e-12)  # fmt: skip


def test_gradients_of_log_prob_and_kl_match_finite_differences():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3))
    loc, L = rng.standard_normal(3), random_tril(rng, 3)
    ad.gradgradcheck(lambda m, s: D.MultivariateNormal(m, scale_tril=s).log_prob(x), [loc, L])
    loc_q, L_q = rng.standard_normal(3), random_tril(rng, 3)

    def kl(m, s, mq, sq):
        return D.kl_divergence(D.MultivariateNormal(m, scale_tril=s),
                               D.MultivariateNormal(mq, scale_tril=sq))  # fmt: skip

    ad.gradcheck(kl, [loc, L, loc_q, L_q])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "exactly one of covariance_matrix and scale_tril"),
        ({"scale_tril": -np.eye(2)}, "positive diagonal"),
        ({"scale_tril": np.eye(3)}, r"needs \(2, 2\) matrices"),
    ],
)
def test_bad_parameters_give_one_line_errors(kwargs, message):
    with pytest.raises(ValueError, match=message) as error:
        D.MultivariateNormal(np.zeros(2), **kwargs)
    assert "\n" not in str(error.value)
