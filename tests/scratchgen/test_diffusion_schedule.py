"""The discrete-time diffusion's closed forms: the schedules, q(x_t | x_0), the posterior
q(x_{t-1} | x_t, x_0) against Bayes' rule done numerically, the parametrisations, L_simple's
known minimum and the variational bound against exact NLLs, all with exact (untrained) noise
predictors. Seeds are fixed; each statistical tolerance is stated."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff as ad
from scratchgen import diffusion as d
from scratchgen.diffusion.targets import GaussianData

GAUSSIAN = GaussianData([1.0, -0.5], [[1.0, 0.6], [0.6, 0.8]])


def test_linear_schedule_is_ho_et_al_s():
    s = d.NoiseSchedule("linear", 1000)
    assert s.betas[0] == pytest.approx(1e-4) and s.betas[-1] == pytest.approx(0.02)
    assert np.all(np.diff(s.alpha_bar) < 0)
    assert s.alpha_bar[-1] == pytest.approx(np.prod(1 - np.linspace(1e-4, 0.02, 1000)))
    assert s.alpha_bar[-1] < 1e-4  # x_T is nearly pure noise


def test_cosine_schedule_follows_its_formula():
    s = d.NoiseSchedule("cosine", 1000)
    f = np.cos(np.pi / 2 * (np.arange(1001) / 1000 + 0.008) / 1.008) ** 2
    unclipped = s.betas < 0.999
    np.testing.assert_allclose(s.alpha_bar[unclipped], (f[1:] / f[0])[unclipped], rtol=1e-10)
    assert s.betas.max() == pytest.approx(0.999)  # clipped at the singular end


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_respacing_to_every_level_gives_the_schedule_back(kind):
    s = d.NoiseSchedule(kind, 200)
    respaced, tau = s.respaced(200)
    np.testing.assert_array_equal(tau, np.arange(200))
    np.testing.assert_allclose(respaced.betas, s.betas, rtol=1e-12)
    assert respaced.T == 200 and respaced.kind == kind


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_a_respaced_schedule_keeps_the_marginals_of_the_levels_it_keeps(kind):
    s = d.NoiseSchedule(kind, 1000)
    respaced, tau = s.respaced(37)
    assert respaced.T == len(tau) == 37 and tau[0] == 0 and tau[-1] == 999
    np.testing.assert_allclose(respaced.alpha_bar, s.alpha_bar[tau], rtol=1e-9)  # a cumprod
    assert np.all((respaced.betas > 0) & (respaced.betas < 1))
    # so the exact eps of the respaced chain at level i is the trained chain's at tau_i
    x, i = np.random.default_rng(0).standard_normal((37, 2)), np.arange(37)
    np.testing.assert_allclose(GAUSSIAN.schedule_eps(respaced)(x, i),
                               GAUSSIAN.schedule_eps(s)(x, tau[i]), rtol=1e-12)  # fmt: skip


@pytest.mark.parametrize("bad", [{"kind": "sigmoid"}, {"steps": 0}, {"steps": 2.5},
                                 {"steps": 10}])  # fmt: skip
def test_bad_schedules_are_refused_in_one_line(bad):
    with pytest.raises(ValueError, match="NoiseSchedule"):
        d.NoiseSchedule(**bad)


def test_indices_are_checked():
    s = d.NoiseSchedule("cosine", steps=10)
    with pytest.raises(ValueError, match="0 .. 9"):
        s.q_mean_std(np.zeros((2, 3)), np.array([0, 10]))
    with pytest.raises(ValueError, match="integer"):
        s.q_mean_std(np.zeros((2, 3)), np.array([0.5, 1.0]))


def test_q_sample_matches_the_chain_of_single_steps():
    """Running q(x_t | x_{t-1}) t times gives the closed-form q(x_t | x_0): moments of 20000
    chains within 4.5 standard errors (a false failure about once in 10^5)."""
    s, rng = d.NoiseSchedule(steps=50), np.random.default_rng(0)
    x0 = np.full((20000, 1), 1.3)
    x = x0.copy()
    for beta in s.betas[:30]:
        x = math.sqrt(1 - beta) * x + math.sqrt(beta) * rng.standard_normal(x.shape)
    mean, std = s.q_mean_std(x0, 29)
    assert abs(x.mean() - mean[0, 0]) < 4.5 * std[0, 0] / math.sqrt(len(x))
    assert abs(x.std() - std[0, 0]) < 4.5 * std[0, 0] / math.sqrt(2 * len(x))


def test_posterior_is_bayes_rule():
    """q(x_{t-1} | x_t, x_0) from the joint Gaussian of (x_{t-1}, x_t) given x_0, by the
    conditioning formula, for one coordinate and every t."""
    s = d.NoiseSchedule("cosine", 20)
    x0, x_t = np.array([[0.7]]), np.array([[-0.4]])
    for t in range(1, 20):
        a_prev, alpha = s.alpha_bar[t - 1], s.alphas[t]
        mean_prev, var_prev = math.sqrt(a_prev) * 0.7, 1 - a_prev
        # x_t = sqrt(alpha) x_{t-1} + sqrt(beta) z: cov(x_{t-1}, x_t) = sqrt(alpha) var_prev
        cov, var_t = math.sqrt(alpha) * var_prev, alpha * var_prev + s.betas[t]
        expected_mean = mean_prev + cov / var_t * (-0.4 - math.sqrt(alpha) * mean_prev)
        expected_var = var_prev - cov**2 / var_t
        mean, var = s.posterior(x0, x_t, t)
        assert mean[0, 0] == pytest.approx(expected_mean, rel=1e-10)
        assert var[0, 0] == pytest.approx(expected_var, rel=1e-10)
    mean, var = s.posterior(x0, x_t, 0)
    assert mean[0, 0] == pytest.approx(0.7) and var[0, 0] == 0


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 999), st.sampled_from(["linear", "cosine"]), st.integers(0, 10_000))
def test_parametrisations_convert_back_and_forth(t, kind, seed):
    s, rng = d.NoiseSchedule(kind), np.random.default_rng(seed)
    x0, eps = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    x_t = s.q_sample(x0, t, eps)
    for p in d.PARAMETRIZATIONS:
        x0_back, eps_back = s.to_x0_eps(s.target(x0, eps, t, p), x_t, t, p)
        np.testing.assert_allclose(x0_back, x0, atol=1e-6 / math.sqrt(s.alpha_bar[t]))
        np.testing.assert_allclose(eps_back, eps, atol=1e-6 / math.sqrt(1 - s.alpha_bar[t]))
    with pytest.raises(ValueError, match="parametrization"):
        s.to_x0_eps(x0, x_t, t, "score")


def test_l_simple_at_the_exact_eps_is_its_closed_form_minimum():
    """At eps_hat = E[eps | x_t] the loss is E_t tr Cov(eps | x_t) / D, with Cov(eps | x_t) =
    I - (1 - ab) C^-1, C = ab Sigma + (1 - ab) I; 40000 draws, within 4.5 standard errors
    (the loss's per-example spread, estimated)."""
    s, rng = d.NoiseSchedule(steps=100), np.random.default_rng(1)
    eps_fn = GAUSSIAN.schedule_eps(s)
    x0 = GAUSSIAN.sample(40000, rng)
    t = rng.integers(0, s.T, len(x0))
    loss = d.simple_loss(lambda x, t: ad.Tensor(eps_fn(x.data, t)), x0, s,
                         np.random.default_rng(2), t=t)  # fmt: skip

    def minimum(index):
        ab = s.alpha_bar[index]
        C = ab * GAUSSIAN.cov + (1 - ab) * np.eye(2)
        return np.trace(np.eye(2) - (1 - ab) * np.linalg.inv(C)) / 2

    expected = np.mean([minimum(i) for i in t])
    # one example's squared error per dimension is at most a chi-square(2)/2: sd <= 1
    assert abs(float(loss.data) - expected) < 4.5 / math.sqrt(len(x0))
    worse = d.simple_loss(
        lambda x, t: ad.Tensor(0.5 * eps_fn(x.data, t)), x0, s, np.random.default_rng(2), t=t
    )  # the same draws: a paired comparison
    assert float(worse.data) > float(loss.data) + 0.01


def test_l_simple_is_differentiable_and_checks_shapes():
    s, rng = d.NoiseSchedule(steps=50), np.random.default_rng(0)
    w = ad.Tensor(np.ones((1, 2)), requires_grad=True)
    loss = d.simple_loss(lambda x, t: x * w, np.ones((5, 2)), s, rng)
    (g,) = ad.grad(loss, w)
    assert g.shape == (1, 2) and np.all(np.isfinite(g.data)) and np.any(g.data != 0)
    with pytest.raises(ValueError, match="shape"):
        d.simple_loss(lambda x, t: x[:, :1], np.ones((5, 2)), s, rng)


def test_gaussian_kl_is_the_closed_form():
    m1, m2 = np.array([[0.3, -1.0]]), np.array([[0.1, 0.5]])
    expected = sum(0.5 * (math.log(4.0 / 0.5) + (0.5 + (a - b) ** 2) / 4.0 - 1)
                   for a, b in zip(m1[0], m2[0]))  # fmt: skip
    assert d.gaussian_kl(m1, 0.5, m2, 4.0)[0] == pytest.approx(expected)
    assert d.gaussian_kl(m1, 0.5, m1, 0.5)[0] == 0


def test_discretized_decoder_is_a_probability_over_the_levels():
    """Summed over all 17 levels of one coordinate the masses are 1, for any mean and std."""
    levels = np.linspace(-1, 1, 17)[:, None]
    for mean, std in [(0.0, 0.1), (0.93, 0.02), (-3.0, 1.0), (0.5, 1e-3)]:
        log_p = d.discretized_gaussian_log_likelihood(levels, np.full((17, 1), mean), std, 17)
        assert np.exp(log_p).sum() == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ValueError, match="17 levels"):
        d.discretized_gaussian_log_likelihood(np.array([[0.01]]), np.zeros((1, 1)), 0.1, 17)


def test_vlb_is_tight_where_the_reverse_chain_is_exact():
    """Data N(0, I): every marginal is N(0, I), the true reverse step is N(sqrt(alpha_t) x_t,
    beta_t I), and the model with the exact eps and sigma^2 = beta is the true reverse chain,
    so E L_vlb = E[-log p(x)] (the bound's gap KL(q(x_1:T | x_0) || p(x_1:T | x_0)) is 0):
    within 4.5 standard errors over 2000 examples. With sigma^2 = beta~ the bound is loose."""
    s, rng = d.NoiseSchedule(steps=200), np.random.default_rng(3)
    data = GaussianData([0.0, 0.0], np.eye(2))
    x0 = data.sample(2000, rng)
    nll = -data.log_prob(x0).mean()
    exact = d.variational_bound(s, data.schedule_eps(s), x0, rng, decoder="gaussian",
                                variance="beta")["total"]  # fmt: skip
    assert abs(exact.mean() - nll) < 4.5 * exact.std() / math.sqrt(len(x0))
    small = d.variational_bound(s, data.schedule_eps(s), x0, rng, decoder="gaussian",
                                variance="posterior")["total"]  # fmt: skip
    assert small.mean() > nll + 4.5 * small.std() / math.sqrt(len(x0))


@pytest.mark.parametrize("variance", ["beta", "posterior"])
def test_vlb_is_at_least_the_exact_nll(variance):
    """E L_vlb >= E[-log p_data(x)] (the data's entropy bounds any model's cross-entropy),
    for correlated Gaussian data with the exact eps; the terms are in the bound."""
    s, rng = d.NoiseSchedule(steps=200), np.random.default_rng(4)
    x0 = GAUSSIAN.sample(2000, rng)
    parts = d.variational_bound(s, GAUSSIAN.schedule_eps(s), x0, rng, decoder="gaussian",
                                variance=variance)  # fmt: skip
    total = parts["total"]
    assert total.mean() > -GAUSSIAN.log_prob(x0).mean() - 4.5 * total.std() / math.sqrt(2000)
    np.testing.assert_allclose(parts["prior"] + parts["diffusion"] + parts["decoder"], total)
    assert np.all(parts["prior"] >= 0) and np.all(parts["diffusion"] >= 0)


def test_discrete_vlb_bounds_a_probability():
    """On data on a grid the discretised decoder's bound is a -log of a probability: never
    negative, and a wrong eps makes it worse."""
    s, rng = d.NoiseSchedule(steps=100), np.random.default_rng(5)
    x0 = np.round(np.clip(GAUSSIAN.sample(300, rng) / 3, -1, 1) * 8) / 8  # 17 levels
    data = GaussianData(GAUSSIAN.mean / 3, GAUSSIAN.cov / 9)
    bound = d.variational_bound(s, data.schedule_eps(s), x0, rng, bins=17)["total"]
    assert np.all(bound >= 0)
    noisy = d.variational_bound(s, lambda x, t: 0.5 * data.schedule_eps(s)(x, t), x0, rng,
                                bins=17)["total"]  # fmt: skip
    assert noisy.mean() > bound.mean()
