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


class Mixture:
    """A Gaussian mixture in D dimensions with exact log-density, samples, and the exact score
    of itself blurred by N(0, sigma^2 I) (each component's covariance plus sigma^2 I)."""

    def __init__(self, weights, means, covariances):
        self.w, self.mu = np.asarray(weights, float), np.asarray(means, float)
        self.cov = np.asarray(covariances, float)

    def _components(self, x, sigma):
        cov = self.cov + sigma**2 * np.eye(self.mu.shape[1])
        precision = np.linalg.inv(cov)
        d = x[:, None, :] - self.mu  # (n, K, D)
        log_det = np.linalg.slogdet(cov)[1]
        quad = np.einsum("nki,kij,nkj->nk", d, precision, d)
        log_pk = np.log(self.w) - 0.5 * (quad + log_det + self.mu.shape[1] * math.log(2 * math.pi))
        return log_pk, -np.einsum("kij,nkj->nki", precision, d)

    def log_prob(self, x, sigma=0.0):
        log_pk, _ = self._components(x, sigma)
        return np.logaddexp.reduce(log_pk, axis=1)

    def score(self, x, sigma=0.0):
        log_pk, scores = self._components(x, sigma)
        r = np.exp(log_pk - np.logaddexp.reduce(log_pk, axis=1, keepdims=True))
        return np.einsum("nk,nki->ni", r, scores)

    def sample(self, n, rng):
        k = rng.choice(len(self.w), size=n, p=self.w)
        z = rng.standard_normal((n, self.mu.shape[1]))
        return self.mu[k] + np.einsum("nij,nj->ni", np.linalg.cholesky(self.cov)[k], z)

    def moments(self):
        mean = self.w @ self.mu
        second = np.einsum(
            "k,kij->ij", self.w, self.cov + np.einsum("ki,kj->kij", self.mu, self.mu)
        )
        return mean, np.diag(second - np.outer(mean, mean))


GAUSSIAN_2D = Mixture([1.0], [[1.0, -0.5]], [[[1.0, 0.6], [0.6, 0.8]]])
MIXTURE_2D = Mixture([0.3, 0.7], [[-1.0, 0.0], [1.0, 0.5]], [np.eye(2) * 0.36] * 2)
SEPARATED = Mixture([0.2, 0.8], [[-5.0, -5.0], [5.0, 5.0]], [np.eye(2)] * 2)


def assert_matches(x, target, rng, false_failure=1e-3):
    """Per-coordinate means and variances within 4.5 standard errors (for the variance of a
    non-Gaussian law, the standard error of the sample variance is estimated from the fourth
    central moment), and the MMD permutation test against as many exact samples with 1000
    relabellings: a correct sampler fails it with probability at most ``false_failure``."""
    mean, var = target.moments()
    n = len(x)
    centred = x - x.mean(axis=0)
    se_var = np.sqrt(np.maximum(np.mean(centred**4, axis=0) - x.var(axis=0) ** 2, 0) / n)
    assert np.all(np.abs(x.mean(axis=0) - mean) < 4.5 * np.sqrt(var / n)), x.mean(axis=0)
    assert np.all(np.abs(x.var(axis=0, ddof=1) - var) < 4.5 * se_var), x.var(axis=0)
    _, p_value = metrics.mmd_test(x, target.sample(n, rng), permutations=1000, rng=rng)
    assert p_value > false_failure, p_value


def run_sampler(name, target, x0, rng):
    if name == "unadjusted":  # a small step, whose O(step) bias is below what the tests see
        return samplers.langevin(target.score, x0, 0.02, 800, rng)
    if name == "mala":
        return samplers.langevin(target.score, x0, 0.3, 400, rng, log_prob=target.log_prob)
    if name == "hmc":
        both = lambda y: (target.log_prob(y), target.score(y))  # noqa: E731
        return samplers.hmc(both, x0, 0.3, 8, rng, steps=100)
    # the smallest level well below the data's scale, and eps = sigma_L^2, so that the step
    # at every level is about that level's variance or less (Langevin is stable up to 4x)
    # and the lowest levels, whose steps are smallest, have little left to correct
    sigmas = np.geomspace(5.0, 0.05, 10)
    return samplers.annealed_langevin(target.score, sigmas, 0.05**2, 100, x0, rng)


@pytest.mark.parametrize("target", [GAUSSIAN_2D, MIXTURE_2D], ids=["gaussian", "mixture"])
@pytest.mark.parametrize("name", ["unadjusted", "mala", "hmc", "annealed"])
def test_each_sampler_reproduces_a_target_from_its_exact_score(name, target):
    rng = np.random.default_rng(10)
    x0 = 2.0 * rng.standard_normal((1000, 2))
    assert_matches(run_sampler(name, target, x0, rng), target, rng)


def test_annealed_langevin_finds_the_weights_of_separated_modes_and_plain_langevin_does_not():
    """Song & Ermon 2019, figure 3: p = 0.2 N((-5, -5), I) + 0.8 N((5, 5), I), chains from the
    uniform law on [-8, 8]^2. Annealing from sigma = 20 carries the chains between the modes
    while they still overlap, and the fraction in the first mode is within 4.5 binomial
    standard errors of 0.2; Langevin at the data's own score leaves each chain in its
    starting basin, about half of them in each."""
    rng = np.random.default_rng(11)
    n = 2000
    x0 = rng.uniform(-8, 8, (n, 2))
    sigmas = np.geomspace(20.0, 0.05, 10)
    x = samplers.annealed_langevin(SEPARATED.score, sigmas, 0.05**2, 100, x0, rng)
    tolerance = 4.5 * math.sqrt(0.2 * 0.8 / n)
    assert abs(np.mean(x[:, 0] < 0) - 0.2) < tolerance
    assert_matches(x, SEPARATED, rng)
    plain = samplers.langevin(SEPARATED.score, x0, 0.1, 1000, rng)
    assert abs(np.mean(plain[:, 0] < 0) - 0.2) > 5 * tolerance


def test_mala_accepts_everything_in_the_small_step_limit_and_leaves_the_target_invariant():
    rng = np.random.default_rng(12)
    x0 = MIXTURE_2D.sample(2000, rng)
    refusals = []
    for step in (0.5, 0.05, 0.005, 0.0005):
        _, diagnostics = samplers.langevin(
            MIXTURE_2D.score, x0, step, 20, rng, log_prob=MIXTURE_2D.log_prob,
            return_diagnostics=True)  # fmt: skip
        refusals.append(1 - diagnostics["acceptance"].mean())
    assert all(a > b for a, b in zip(refusals, refusals[1:])), refusals
    assert refusals[-1] < 1e-3
    # started at the target, a chain with a step whose unadjusted bias shows stays at it
    step = 0.5
    assert_matches(samplers.langevin(MIXTURE_2D.score, x0, step, 30, rng,
                                     log_prob=MIXTURE_2D.log_prob), MIXTURE_2D, rng)  # fmt: skip
    with pytest.raises(AssertionError):
        assert_matches(samplers.langevin(MIXTURE_2D.score, x0, step, 30, rng), MIXTURE_2D, rng)


def test_the_diagnostics_and_the_trajectory_say_what_each_step_did():
    rng = np.random.default_rng(13)
    x0 = rng.standard_normal((50, 2))
    sigmas = [1.0, 0.5, 0.1]
    x, path, diagnostics = samplers.annealed_langevin(
        GAUSSIAN_2D.score, sigmas, 1e-3, 4, x0, rng, return_trajectory=True,
        return_diagnostics=True)  # fmt: skip
    assert path.shape == (3 * 4 + 2, 50, 2) and np.array_equal(path[-1], x)
    np.testing.assert_allclose(diagnostics["sigma"], np.repeat(sigmas, 4))
    np.testing.assert_allclose(diagnostics["step_size"], 1e-3 * np.repeat(sigmas, 4) ** 2 / 0.01)
    assert np.all(diagnostics["acceptance"] == 1.0)
    # the last state is the Tweedie denoising of the one before it
    np.testing.assert_allclose(x, path[-2] + 0.01 * GAUSSIAN_2D.score(path[-2], 0.1))
    s0 = GAUSSIAN_2D.score(x0, 1.0)
    assert diagnostics["grad_norm"][0] == pytest.approx(np.linalg.norm(s0, axis=1).mean())
    # the signal-to-noise ratio: sqrt(eps / 2) ||s|| / ||z||, where z is the step's noise
    z = (path[1] - x0 - 0.5 * 0.1 * s0) / math.sqrt(0.1)
    snr = math.sqrt(0.05) * np.linalg.norm(s0, axis=1) / np.linalg.norm(z, axis=1)
    assert diagnostics["snr"][0] == pytest.approx(snr.mean())
    _, plain = samplers.langevin(GAUSSIAN_2D.score, x0, 0.1, 3, rng, return_diagnostics=True)
    assert set(plain) == {"step_size", "acceptance", "grad_norm", "snr"}
    assert all(len(v) == 3 for v in plain.values())


def test_chains_of_images_run_as_their_flat_vectors_and_float32_stays_float32():
    x0 = np.random.default_rng(14).standard_normal((6, 1, 2, 2))
    image_score = lambda x, sigma=0.0: -x / (1 + sigma**2)  # noqa: E731
    log_prob = lambda x: -0.5 * np.sum(x.reshape(len(x), -1) ** 2, axis=1)  # noqa: E731
    for run in (
        lambda x, rng: samplers.langevin(image_score, x, 0.1, 5, rng, log_prob=log_prob),
        lambda x, rng: samplers.annealed_langevin(image_score, [1.0, 0.1], 0.01, 3, x, rng),
    ):
        images = run(x0, np.random.default_rng(0))
        flat = run(x0.reshape(6, 4), np.random.default_rng(0))
        np.testing.assert_array_equal(images.reshape(6, 4), flat)
        assert run(x0.astype(np.float32), np.random.default_rng(0)).dtype == np.float32


def test_annealed_langevin_refuses_bad_levels_in_one_line():
    rng, x0 = np.random.default_rng(0), np.zeros((3, 2))
    for kwargs, message in [
        ({"sigmas": [0.1, 1.0]}, "must decrease"),
        ({"sigmas": []}, "non-empty list of positive"),
        ({"sigmas": [1.0, -0.1]}, "non-empty list of positive"),
        ({"eps": 0.0}, "eps > 0"),
        ({"steps_per_level": 0}, "steps_per_level >= 1"),
    ]:
        args = {"sigmas": [1.0, 0.1], "eps": 0.1, "steps_per_level": 2, **kwargs}
        with pytest.raises(ValueError, match=message) as error:
            samplers.annealed_langevin(GAUSSIAN_2D.score, x0=x0, rng=rng, **args)
        assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="the chains' shape"):
        samplers.annealed_langevin(lambda x, s: x[:, :1], [1.0], 0.1, 1, x0, rng)


def test_bounded_langevin_stays_in_its_box_and_refuses_the_correction():
    rng = np.random.default_rng(15)
    x = samplers.langevin(lambda y: np.ones_like(y) * 50.0, np.zeros((200, 3)), 0.1, 20, rng,
                          bounds=(-1.0, 1.0))  # fmt: skip
    assert x.max() == 1.0 and x.min() >= -1.0
    with pytest.raises(ValueError, match="without log_prob"):
        samplers.langevin(score, np.zeros((3, 1)), 0.1, 1, rng, log_prob=log_prob,
                          bounds=(-1.0, 1.0))  # fmt: skip
