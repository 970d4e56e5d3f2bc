"""Distributions: normalisation, moments, entropy and KL against Monte Carlo, gradients.

Statistical checks use n = 200 000 draws with fixed seeds and a 6-standard-error bound: a false
failure about once in 10^9 runs per check.
"""

import numpy as np
import pytest

import autodiff as ad
from scratchgen import distributions as D

N = 200_000
rng = np.random.default_rng(0)


def within_6_se(samples, expected):
    se = samples.std(axis=0) / np.sqrt(len(samples))
    assert np.all(np.abs(samples.mean(axis=0) - expected) < 6 * se + 1e-12)


# ---------------------------------------------------------------- normalisation
def test_normal_density_integrates_to_one():
    d = D.Normal(np.array([0.3, -1.0]), np.array([0.5, 2.0]))
    x = np.linspace(-20, 20, 400_001)[:, None]
    density = np.exp(d.log_prob(x).data)
    np.testing.assert_allclose(np.trapezoid(density, x[:, 0], axis=0), 1.0, atol=1e-9)


def test_bernoulli_and_categorical_sum_to_one():
    b = D.Bernoulli(logits=np.array([-30.0, 0.4, 30.0]))
    total = np.exp(b.log_prob(np.zeros(3)).data) + np.exp(b.log_prob(np.ones(3)).data)
    np.testing.assert_allclose(total, 1.0)
    c = D.Categorical(logits=rng.standard_normal((4, 5)) * 10)
    probs = np.exp(np.stack([c.log_prob(np.full(4, k)).data for k in range(5)], -1))
    np.testing.assert_allclose(probs.sum(-1), 1.0)


@pytest.mark.parametrize("log_scale", [-7.0, -3.0, 0.0, 1.0])
def test_discretized_logistic_mixture_sums_to_one_over_256_levels(log_scale):
    """Even with tiny scales, where the interior masses underflow and the fallback is used."""
    K = 3
    d = D.DiscretizedLogisticMixture(rng.standard_normal(K), np.array([-0.9, 0.1, 0.95]),
                                     np.full(K, log_scale))  # fmt: skip
    levels = np.arange(256) / 127.5 - 1
    probs = np.exp(ad.logsumexp(d.log_prob(levels), axis=0).data)
    assert probs == pytest.approx(1.0, abs=1e-6 if log_scale > -5 else 1e-2)
    assert np.all(np.isfinite(d.log_prob(levels).data))


def test_gaussian_mixture_integrates_to_one_in_2d():
    K = 4
    components = D.Normal(rng.standard_normal((K, 2)), rng.uniform(0.3, 1.0, (K, 2)))
    mix = D.MixtureSameFamily(D.Categorical(logits=rng.standard_normal(K)),
                              D.Independent(components, 1))  # fmt: skip
    grid = np.linspace(-8, 8, 801)
    xx, yy = np.meshgrid(grid, grid)
    density = np.exp(mix.log_prob(np.stack([xx, yy], -1)).data)
    step = grid[1] - grid[0]
    assert density.sum() * step * step == pytest.approx(1.0, abs=1e-6)


# ---------------------------------------------------------------- sampling
def test_normal_samples_have_the_right_moments():
    d = D.Normal(np.array([1.0, -2.0]), np.array([0.5, 3.0]))
    x = d.sample((N,), rng=np.random.default_rng(1))
    assert x.shape == (N, 2)
    within_6_se(x, [1.0, -2.0])
    within_6_se((x - [1.0, -2.0]) ** 2, [0.25, 9.0])


def test_categorical_and_bernoulli_sample_frequencies():
    p = np.array([0.1, 0.6, 0.3])
    k = D.Categorical(probs=p).sample((N,), rng=np.random.default_rng(2))
    within_6_se(np.eye(3)[k], p)
    b = D.Bernoulli(probs=np.array([0.2, 0.9])).sample((N,), rng=np.random.default_rng(3))
    within_6_se(b, [0.2, 0.9])


def test_mixture_samples_follow_the_mixture():
    mix = D.MixtureSameFamily(D.Categorical(probs=np.array([0.25, 0.75])),
                              D.Normal(np.array([-5.0, 5.0]), np.array([1.0, 1.0])))  # fmt: skip
    x = mix.sample((N,), rng=np.random.default_rng(4))
    within_6_se((x > 0).astype(float), 0.75)
    within_6_se(x, 0.25 * -5 + 0.75 * 5)


def test_logistic_mixture_samples_lie_on_the_grid_and_match_probabilities():
    d = D.DiscretizedLogisticMixture(np.zeros(2), np.array([-0.5, 0.5]), np.log([0.1] * 2))
    x = d.sample((N,), rng=np.random.default_rng(5))
    levels = np.round((x + 1) * 127.5)
    np.testing.assert_allclose(levels, (x + 1) * 127.5, atol=1e-6)
    p_grid = np.exp(d.log_prob(np.arange(256) / 127.5 - 1).data)
    counts = np.bincount(levels.astype(int), minlength=256) / N
    bound = 6 * np.sqrt(p_grid * (1 - p_grid) / N) + 1e-5  # per bin; 256 bins: 5e-7 overall
    np.testing.assert_array_less(np.abs(counts - p_grid), bound)


# ---------------------------------------------------------------- entropy and KL
def monte_carlo_kl(p, q, seed):
    x = p.sample((N,), rng=np.random.default_rng(seed))
    terms = (p.log_prob(x) - q.log_prob(x)).data
    return terms.mean(0), terms.std(0) / np.sqrt(N)


PAIRS = {
    "normal": (D.Normal(np.array([0.0, 1.0]), np.array([1.0, 0.5])),
               D.Normal(np.array([0.5, -1.0]), np.array([2.0, 1.5]))),
    "bernoulli": (D.Bernoulli(logits=np.array([-1.0, 2.0])),
                  D.Bernoulli(logits=np.array([0.5, 0.0]))),
    "categorical": (D.Categorical(logits=np.array([0.0, 1.0, -1.0])),
                    D.Categorical(logits=np.array([1.0, 0.0, 0.0]))),
    "independent": (D.Independent(D.Normal(np.zeros(3), np.ones(3)), 1),
                    D.Independent(D.Normal(np.ones(3), 2 * np.ones(3)), 1)),
}  # fmt: skip


@pytest.mark.parametrize("name", PAIRS)
def test_kl_matches_monte_carlo_and_vanishes_for_equal_arguments(name):
    p, q = PAIRS[name]
    estimate, se = monte_carlo_kl(p, q, seed=6)
    np.testing.assert_array_less(np.abs(D.kl_divergence(p, q).data - estimate), 6 * se + 1e-12)
    np.testing.assert_allclose(D.kl_divergence(p, p).data, 0.0, atol=1e-12)


@pytest.mark.parametrize("name", ["normal", "bernoulli", "categorical", "independent"])
def test_entropy_matches_monte_carlo(name):
    p, _ = PAIRS[name]
    x = p.sample((N,), rng=np.random.default_rng(7))
    terms = -p.log_prob(x).data
    np.testing.assert_array_less(np.abs(p.entropy().data - terms.mean(0)),
                                 6 * terms.std(0) / np.sqrt(N) + 1e-12)  # fmt: skip


def test_kl_without_a_closed_form_says_what_to_do():
    with pytest.raises(NotImplementedError, match="Monte Carlo"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Bernoulli(logits=0.0))


# ---------------------------------------------------------------- gradients
def test_rsample_gradient_matches_the_analytic_gradient():
    """E[x^2] = mu^2 + sigma^2 for x ~ N(mu, sigma^2): the reparameterised estimate of its
    gradient is unbiased for (2 mu, 2 sigma); per-draw gradients are 2x and 2x eps."""
    mu = ad.Tensor(np.array(0.7), requires_grad=True)
    sigma = ad.Tensor(np.array(1.3), requires_grad=True)
    x = D.Normal(mu, sigma).rsample((N,), rng=np.random.default_rng(8))
    g_mu, g_sigma = ad.grad(ad.mean(x * x), [mu, sigma])
    eps = (x.data - 0.7) / 1.3
    se_mu, se_sigma = np.std(2 * x.data) / np.sqrt(N), np.std(2 * x.data * eps) / np.sqrt(N)
    assert abs(g_mu.item() - 2 * 0.7) < 6 * se_mu
    assert abs(g_sigma.item() - 2 * 1.3) < 6 * se_sigma


def test_log_probs_are_differentiable_in_the_parameters():
    x = rng.standard_normal(3)
    assert ad.gradcheck(
        lambda m, s: D.Normal(m, s).log_prob(x), [rng.standard_normal(3), np.ones(3)]
    )
    y = np.array([0.0, 1.0, 1.0])
    assert ad.gradgradcheck(lambda l: D.Bernoulli(logits=l).log_prob(y), [rng.standard_normal(3)])
    k = np.array([2, 0])
    assert ad.gradcheck(
        lambda l: D.Categorical(logits=l).log_prob(k), [rng.standard_normal((2, 3))]
    )
    levels = np.array([-1.0, 0.0, 1.0, 101 / 127.5 - 1])[:, None]
    params = [rng.standard_normal(2), rng.standard_normal(2) * 0.5, -np.ones(2)]
    assert ad.gradcheck(lambda a, b, c: D.DiscretizedLogisticMixture(a, b, c).log_prob(levels),
                        params)  # fmt: skip


def test_bernoulli_is_stable_at_huge_logits():
    b = D.Bernoulli(logits=np.array([-800.0, 800.0]))
    np.testing.assert_allclose(b.log_prob(np.array([0.0, 1.0])).data, [0.0, 0.0])
    assert np.all(np.isfinite(b.log_prob(np.array([1.0, 0.0])).data))


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="scale must be positive"):
        D.Normal(0.0, -1.0)
    with pytest.raises(ValueError, match="exactly one of probs and logits"):
        D.Bernoulli()
    with pytest.raises(ValueError, match=r"classes must lie in \[0, 3\)"):
        D.Categorical(logits=np.zeros(3)).log_prob(np.array([3]))
    with pytest.raises(NotImplementedError, match="score-function"):
        D.Bernoulli(logits=0.0).rsample(rng=rng)
