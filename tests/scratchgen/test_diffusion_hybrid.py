"""Learned reverse variances and Improved DDPM's hybrid loss (Nichol & Dhariwal 2021): eq. 15's
interpolation hits both fixed choices at its ends, a learned chain with a fixed choice's
variances is that chain, L_vlb's terms are the bound's, L_hybrid is L_simple plus a term that
reaches only v, and training v by it finds the true reverse variance. Exact noise predictors
throughout; seeds are fixed and each tolerance is stated."""

import math

import numpy as np
import pytest
from scipy import stats

import autodiff as ad
from autodiff import Tensor
from scratchgen import data, models, optim, train
from scratchgen import diffusion as d
from scratchgen.diffusion.targets import GaussianData

GAUSSIAN = GaussianData([1.0, -0.5], [[1.0, 0.6], [0.6, 0.8]])


def with_log_variance(eps_fn, log_variance):
    """An eps_fn for variance='learned' that returns a fixed table's log sigma_t^2."""

    def pair(x, t):
        return eps_fn(x, t), np.broadcast_to(log_variance[t][:, None], x.shape)

    return pair


@pytest.mark.parametrize("as_tensor", [False, True])
def test_the_interpolation_ends_at_the_two_fixed_variances(as_tensor):
    s, t = d.NoiseSchedule("cosine", 50), np.arange(50)
    wrap = Tensor if as_tensor else np.asarray
    for v, expected in ((-1.0, s.posterior_log_variance), (1.0, np.log(s.betas))):
        out = d.learned_log_variance(s, wrap(np.full((50, 3), v)), t)
        out = out.data if as_tensor else out
        np.testing.assert_allclose(out, np.repeat(expected[:, None], 3, axis=1), rtol=1e-12)
    middle = d.learned_log_variance(s, np.zeros((50, 1)), t)[:, 0]
    np.testing.assert_allclose(middle, (np.log(s.betas) + s.posterior_log_variance) / 2)


def test_a_learned_chain_with_fixed_variances_is_the_fixed_chain():
    """The bound and the ancestral chain under variance='learned', fed beta~_t (resp. beta_t),
    are the variance='posterior' (resp. 'beta') ones number for number, same seed."""
    s = d.NoiseSchedule(steps=40)
    eps_fn, x0 = GAUSSIAN.schedule_eps(s), GAUSSIAN.sample(50, np.random.default_rng(0))
    for fixed, table in (("posterior", s.posterior_log_variance), ("beta", np.log(s.betas))):
        learned = with_log_variance(eps_fn, table)
        bounds = [d.variational_bound(s, fn, x0, np.random.default_rng(1), decoder="gaussian",
                                      variance=variance)["total"]
                  for fn, variance in ((eps_fn, fixed), (learned, "learned"))]  # fmt: skip
        np.testing.assert_allclose(bounds[0], bounds[1], rtol=1e-12)
        chains = [d.ddpm_ancestral(s, fn, (20, 2), np.random.default_rng(2), variance)
                  for fn, variance in ((eps_fn, fixed), (learned, "learned"))]  # fmt: skip
        np.testing.assert_allclose(chains[0], chains[1], rtol=1e-12)


def test_a_variance_and_an_eps_fn_that_disagree_are_refused_in_one_line():
    s, rng = d.NoiseSchedule(steps=40), np.random.default_rng(0)
    eps_fn = GAUSSIAN.schedule_eps(s)
    with pytest.raises(ValueError, match="must return the pair"):
        d.ddpm_ancestral(s, eps_fn, (2, 2), rng, "learned")
    with pytest.raises(ValueError, match="pass variance='learned'"):
        d.variational_bound(s, with_log_variance(eps_fn, np.log(s.betas)), np.zeros((2, 2)), rng,
                            decoder="gaussian")  # fmt: skip
    with pytest.raises(ValueError, match="chains' shape"):
        d.ddpm_ancestral(s, lambda x, t: (eps_fn(x, t), np.zeros(len(x))), (2, 2), rng, "learned")
    with pytest.raises(ValueError, match="from the network"):
        d.reverse_variance(s, "learned")


def test_the_vlb_terms_are_the_bounds_kl_and_decoder():
    """t >= 1: vlb_term is gaussian_kl from the posterior. t = 0: the tanh decoder is within
    2e-3 nats per number of the exact discretised Gaussian (its CDF is within 2e-4 of Phi),
    and with bins=None it is the Gaussian NLL."""
    s, rng = d.NoiseSchedule(steps=30), np.random.default_rng(0)
    bins = 17
    x0 = np.round(rng.uniform(-1, 1, (40, 3)) * 8) / 8
    x_t = rng.standard_normal((40, 3))
    mean = x0 + 0.05 * rng.standard_normal((40, 3))
    log_variance = rng.uniform(-7, -3, (40, 3))
    t = rng.integers(1, 30, size=40)
    kl = d.vlb_term(s, x0, x_t, t, mean, Tensor(log_variance), bins).data
    true_mean, true_var = s.posterior(x0, x_t, t)
    np.testing.assert_allclose(kl, d.gaussian_kl(true_mean, true_var, mean, np.exp(log_variance)),
                               rtol=1e-10)  # fmt: skip
    first = np.zeros(40, dtype=np.int64)
    std = np.exp(0.5 * log_variance)
    approximate = d.vlb_term(s, x0, x_t, first, mean, Tensor(log_variance), bins).data
    exact = -d.discretized_gaussian_log_likelihood(x0, mean, std, bins)
    assert np.max(np.abs(approximate - exact)) < 2e-3 * 3
    density = d.vlb_term(s, x0, x_t, first, mean, Tensor(log_variance), None).data
    np.testing.assert_allclose(density, -stats.norm.logpdf(x0, mean, std).sum(axis=1), rtol=1e-10)


def linear_predictor(dtype=np.float64):
    """predict(x_t, t) = (a x_t + b, c x_t + e): four weights, two for each output."""
    rng = np.random.default_rng(0)
    weights = [Tensor(rng.standard_normal(2).astype(dtype), requires_grad=True) for _ in range(4)]

    def predict(x_t, t):
        a, b, c, e = weights
        return x_t * a + b, x_t * c + e

    return predict, weights


def hybrid(predict, weight, seed=3, bins=None):
    x0 = GAUSSIAN.sample(64, np.random.default_rng(0))
    return d.hybrid_loss(predict, x0, d.NoiseSchedule(steps=40), np.random.default_rng(seed),
                         weight, bins)  # fmt: skip


def test_the_bound_term_reaches_only_the_variance():
    """At weight 0 L_hybrid is L_simple (same seed); at any weight the eps weights' gradient is
    L_simple's (the stop-gradient on the mean), and the v weights' gradient is the finite
    differences' (float64), for the Gaussian decoder and the discretised one."""
    predict, weights = linear_predictor()
    x0 = GAUSSIAN.sample(64, np.random.default_rng(0))
    simple = d.simple_loss(lambda x, t: predict(x, t)[0], x0, d.NoiseSchedule(steps=40),
                           np.random.default_rng(3))  # fmt: skip
    assert hybrid(predict, 0.0).item() == pytest.approx(simple.item(), rel=1e-12)
    loss = hybrid(predict, 1.0)
    assert loss.item() > simple.item()
    eps_grads = ad.grad(loss, weights[:2])
    for got, expected in zip(eps_grads, ad.grad(simple, weights[:2]), strict=True):
        np.testing.assert_allclose(got.data, expected.data, rtol=1e-12)
    for bins in (None, 9):

        def of_v(c, e, bins=bins):
            return hybrid(lambda x, t: (predict(x, t)[0], x * c + e), 1.0, bins=bins)

        assert ad.gradcheck(of_v, weights[2:])


def test_training_v_by_the_bound_finds_the_true_reverse_variance():
    """Data N(0, I) with the exact eps: the true reverse step has variance beta_t at every t
    (the decoder's too), so eq. 15's optimum is v = 1. A table v[t] trained by L_hybrid from
    v = -1 (beta~_t) reaches it within 0.15 wherever log beta_t and log beta~_t differ by more
    than 0.2 (elsewhere v barely moves the variance, and the bound barely cares)."""
    s = d.NoiseSchedule(steps=40)
    target = GaussianData([0.0, 0.0], np.eye(2))
    eps_fn, rng = target.schedule_eps(s), np.random.default_rng(0)
    table = Tensor(np.full((s.T, 1), -1.0), requires_grad=True)
    optimizer = optim.Adam([table], lr=0.03)

    def predict(x_t, t):
        v = ad.one_hot(t, s.T, np.float64) @ table
        return Tensor(eps_fn(x_t.data, t)), v * Tensor(np.ones(x_t.shape))

    for _ in range(400):
        loss = d.hybrid_loss(predict, target.sample(1024, rng), s, rng, weight=1.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    gap = np.log(s.betas) - s.posterior_log_variance
    v = table.data[:, 0]
    assert np.all(np.abs(v[gap > 0.2] - 1) < 0.15), np.round(v, 2)
    assert np.sum(gap > 0.2) >= 2


@pytest.mark.parametrize("dataset", ["eight_gaussians", "digits"])
def test_a_learned_variance_ddpm_trains_samples_and_bounds(dataset):
    dataset = data.load(dataset)
    image = dataset.info.kind != "continuous"
    size = {"channels": 8, "multipliers": [1, 2], "groups": 4} if image else {"hidden": [16]}
    model = models.create("ddpm", dataset.info, timesteps=40, variance="learned", **size)
    fitted = train.fit(model, dataset, steps=3, batch_size=8, progress=False)
    assert math.isfinite(fitted["test_loss"])
    x = model.sample(3, np.random.default_rng(0))
    assert x.shape == (3, *dataset.info.shape)
    eps, log_variance = model.eps_and_log_variance(np.zeros((2, *dataset.info.shape)),
                                                   np.array([5, 0]))  # fmt: skip
    assert eps.shape == log_variance.shape == (2, *dataset.info.shape)
    bound = model.log_prob(dataset.test[:4]).data
    assert bound.shape == (4,) and np.all(np.isfinite(bound))
    if image:
        assert np.all(bound <= 0)  # a log-probability of discrete data


def test_the_hybrid_bound_term_sums_to_the_bound():
    """L_hybrid - L_simple = lambda T L_t / (D log 2), whose mean over a uniform t is
    lambda (L_vlb - L_T) / (D log 2), the bound less its constant prior term, in bits per
    number: with the exact eps and sigma^2 = beta (v = 1), the 40 steps' average on 2000
    examples is within 4.5 standard errors of variational_bound's on 4000 others (a false
    failure about once in 10^5)."""
    s, n = d.NoiseSchedule(steps=40), 2000
    eps_fn, bits = GAUSSIAN.schedule_eps(s), 2 * math.log(2)

    def predict(x_t, t):
        return Tensor(eps_fn(x_t.data, t)), Tensor(np.ones(x_t.shape))

    x0, terms = GAUSSIAN.sample(n, np.random.default_rng(0)), []
    for index in range(s.T):
        pair = [d.hybrid_loss(predict, x0, s, np.random.default_rng(index), weight,
                              t=np.full(n, index)).item() for weight in (1.0, 0.0)]  # fmt: skip
        terms.append(pair[0] - pair[1])
    x0 = GAUSSIAN.sample(4000, np.random.default_rng(99))
    parts = d.variational_bound(s, eps_fn, x0, np.random.default_rng(7), decoder="gaussian",
                                variance="beta")  # fmt: skip
    bound = (parts["diffusion"] + parts["decoder"]) / bits
    error = bound.std() * math.sqrt(1 / n + 1 / 4000)
    assert abs(np.mean(terms) - bound.mean()) < 4.5 * error, (np.mean(terms), bound.mean())
