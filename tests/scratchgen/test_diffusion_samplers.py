"""Every diffusion sampler, given the exact noised score (or eps) of a Gaussian and of a
Gaussian mixture, reproduces the data; the ODE likelihood equals the exact log-density; DDIM's
encoder inverts its decoder; the forward SDEs' kernels match a simulation; and each sampler's
count of function evaluations is the true one. No training: the scores are closed forms
(``scratchgen.diffusion.targets``). Seeds are fixed; each statistical tolerance is stated."""

import math

import numpy as np
import pytest

from scratchgen import diffusion as d
from scratchgen import metrics
from scratchgen.diffusion.targets import GaussianData, GaussianMixtureData

GAUSSIAN = GaussianData([1.0, -0.5], [[1.0, 0.6], [0.6, 0.8]])
# unequal weights and separated modes: a sampler that gets the nonlinear part of the score
# wrong puts the wrong mass in each mode
MIXTURE = GaussianMixtureData([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]], 0.4, [0.5, 0.3, 0.2])
SDES = {"vp": d.VPSDE(), "subvp": d.SubVPSDE(), "ve": d.VESDE()}
N = 1500
SCHEDULE = d.NoiseSchedule()


def sde_samplers(sde, score):
    return {
        "euler_maruyama": lambda rng: d.euler_maruyama(sde, score, (N, 2), rng, steps=500),
        "predictor_corrector": lambda rng: d.predictor_corrector(sde, score, (N, 2), rng,
                                                                 steps=300),
        "probability_flow_ode": lambda rng: d.probability_flow_ode(sde, score, (N, 2), rng),
        "probability_flow_heun": lambda rng: d.probability_flow_heun(sde, score, (N, 2), rng,
                                                                     steps=100),
    }  # fmt: skip


def discrete_samplers(eps):
    return {
        "ancestral": lambda rng: d.ddpm_ancestral(SCHEDULE, eps, (N, 2), rng),
        "ddim_eta0": lambda rng: d.ddim(SCHEDULE, eps, (N, 2), rng, steps=500),
        "ddim_eta1": lambda rng: d.ddim(SCHEDULE, eps, (N, 2), rng, steps=500, eta=1.0),
    }


def assert_reproduces(x, data, seed):
    """Means within 4.5 standard errors (a false failure about once in 10^5 per coordinate,
    plus the samplers' small discretisation bias), and an MMD two-sample test against fresh
    draws of the data not rejected at level 1e-3 (199 permutations give p >= 0.005 always:
    rejecting means p = 0.005, no relabelling as extreme)."""
    rng = np.random.default_rng(seed)
    truth = data.sample(20000, rng)
    se = truth.std(axis=0) / math.sqrt(len(x))
    assert np.all(np.abs(x.mean(axis=0) - truth.mean(axis=0)) < 4.5 * se), x.mean(axis=0)
    _, p = metrics.mmd_test(x[:1000], truth[:1000], permutations=199, rng=rng)
    assert p > 0.005, p


CASES = [(data_name, sde_name, sampler)
         for data_name in ("gaussian", "mixture") for sde_name in SDES
         for sampler in sde_samplers(None, None)]  # fmt: skip


@pytest.mark.parametrize("data_name,sde_name,sampler", CASES)
def test_sde_samplers_reproduce_the_data_from_its_exact_score(data_name, sde_name, sampler):
    data = {"gaussian": GAUSSIAN, "mixture": MIXTURE}[data_name]
    sde = SDES[sde_name]
    x = sde_samplers(sde, data.sde_score(sde))[sampler](np.random.default_rng(0))
    assert x.shape == (N, 2) and np.all(np.isfinite(x))
    assert_reproduces(x, data, 1)


@pytest.mark.parametrize("data_name", ["gaussian", "mixture"])
@pytest.mark.parametrize("sampler", ["ancestral", "ddim_eta0", "ddim_eta1"])
def test_discrete_samplers_reproduce_the_data_from_its_exact_eps(data_name, sampler):
    data = {"gaussian": GAUSSIAN, "mixture": MIXTURE}[data_name]
    x = discrete_samplers(data.schedule_eps(SCHEDULE))[sampler](np.random.default_rng(0))
    assert_reproduces(x, data, 2)


@pytest.mark.parametrize("data_name", ["gaussian", "mixture"])
def test_the_corrector_alone_reproduces_the_data(data_name):
    """Langevin corrections alone, 20 per level over 200 levels of VP's time (NCSN's annealed
    Langevin on the SDE's marginals), end at the data: the corrector targets p_t."""
    data, sde = {"gaussian": GAUSSIAN, "mixture": MIXTURE}[data_name], SDES["vp"]
    x = d.predictor_corrector(sde, data.sde_score(sde), (N, 2), np.random.default_rng(0),
                              steps=200, corrector_steps=20, predictor=None)  # fmt: skip
    assert_reproduces(x, data, 3)
    # and the spread too: the corrector's step sets its bias, here within 10% per axis
    np.testing.assert_allclose(x.var(axis=0), data.sample(20000, np.random.default_rng(4))
                               .var(axis=0), rtol=0.1)  # fmt: skip


def test_a_wrong_score_is_caught():
    """The checks can fail: a score off by a factor of 0.7 is rejected."""
    score = GAUSSIAN.sde_score(SDES["vp"])
    x = d.euler_maruyama(SDES["vp"], lambda x, t: 0.7 * score(x, t), (N, 2),
                         np.random.default_rng(0), steps=500)  # fmt: skip
    with pytest.raises(AssertionError):
        assert_reproduces(x, GAUSSIAN, 1)


def test_mixture_mode_weights_are_right():
    """The fraction of samples nearest each centre matches the weights 0.5, 0.3, 0.2 within
    4.5 binomial standard errors (the modes are 4.4 std apart or more: few samples sit
    between)."""
    sde = SDES["vp"]
    x = d.probability_flow_ode(sde, MIXTURE.sde_score(sde), (4000, 2), np.random.default_rng(3))
    nearest = np.argmin(((x[:, None] - MIXTURE.centres[None]) ** 2).sum(-1), axis=1)
    fractions = np.bincount(nearest, minlength=3) / len(x)
    se = np.sqrt(MIXTURE.weights * (1 - MIXTURE.weights) / len(x))
    assert np.all(np.abs(fractions - MIXTURE.weights) < 4.5 * se), fractions


def exact_model_log_prob(data, sde, x, eps):
    """log p(x) for the probability-flow ODE of Gaussian data with its own prior: the flow is
    linear, x(T) = m_T mu + U diag(sqrt(c_T / c_eps)) U^T (x - m_eps mu) with c = m^2 lambda +
    s^2 along Sigma's eigenvectors U, so log p(x) = log prior(x(T)) + sum 1/2 log(c_T / c_eps)."""
    (m_eps,), (s_eps,) = sde.kernel(eps)
    (m_T,), (s_T,) = sde.kernel(sde.T)
    lam, U = data.eigenvalues, data.eigenvectors
    ratio = (m_T**2 * lam + s_T**2) / (m_eps**2 * lam + s_eps**2)
    x_T = m_T * data.mean + ((x - m_eps * data.mean) @ U * np.sqrt(ratio)) @ U.T
    return sde.prior_log_prob(x_T) + 0.5 * np.sum(np.log(ratio))


@pytest.mark.parametrize("sde_name", list(SDES))
def test_ode_likelihood_is_the_exact_log_density(sde_name):
    """With the exact trace, log p(x) from the ODE equals (a) the ODE model's closed form, to
    1e-3 nats, and (b) the data's log N(x; mu, Sigma) to 1e-2 nats where the prior is p_T.
    The prior ignores the data's mean, which p_T keeps scaled by m_T (6.6e-3 for VP) or whole
    (VE): log N(x_T; m_T mu, C_T) - log N(x_T; 0, I) is about m_T mu . x_T, 1e-2 nats at
    mu = (1, -0.5). So (b) is checked on zero-mean data, where the prior is p_T to 1e-4."""
    sde = SDES[sde_name]
    rng = np.random.default_rng(4)
    for data in (GAUSSIAN, GaussianData([0.0, 0.0], GAUSSIAN.cov)):
        x = data.sample(8, rng)
        log_p = d.ode_log_likelihood(sde, data.sde_score(sde), x)
        model = exact_model_log_prob(data, sde, x, sde.likelihood_eps)
        np.testing.assert_allclose(log_p, model, atol=1e-3)
        if not np.any(data.mean):
            np.testing.assert_allclose(log_p, data.log_prob(x), atol=1e-2)


def test_ode_likelihood_of_a_mixture_is_its_log_density():
    """The mixture's exact noised score gives back its log-density, to 2e-2 nats."""
    sde = SDES["subvp"]
    x = MIXTURE.sample(6, np.random.default_rng(5))
    log_p = d.ode_log_likelihood(sde, MIXTURE.sde_score(sde), x)
    np.testing.assert_allclose(log_p, MIXTURE.log_prob(x), atol=2e-2)


def test_hutchinson_likelihood_is_unbiased():
    """Averaged over 60 Rademacher probes the estimate's mean is within 4.5 standard errors
    of the exact-trace value at each of 4 points (the probes' spread, estimated)."""
    sde = SDES["vp"]
    score = GAUSSIAN.sde_score(sde)
    x = GAUSSIAN.sample(4, np.random.default_rng(6))
    exact = d.ode_log_likelihood(sde, score, x)
    rng = np.random.default_rng(7)
    draws = np.stack([d.ode_log_likelihood(sde, score, x, rng, trace="hutchinson")
                      for _ in range(60)])  # fmt: skip
    se = draws.std(axis=0, ddof=1) / math.sqrt(len(draws))
    assert np.all(se > 0)  # the probe is at work
    assert np.all(np.abs(draws.mean(axis=0) - exact) < 4.5 * se)


def test_likelihood_needs_an_rng_for_hutchinson_and_good_input():
    sde, score = SDES["vp"], GAUSSIAN.sde_score(SDES["vp"])
    with pytest.raises(ValueError, match="rng"):
        d.ode_log_likelihood(sde, score, np.zeros((2, 2)), trace="hutchinson")
    with pytest.raises(ValueError, match="trace"):
        d.ode_log_likelihood(sde, score, np.zeros((2, 2)), trace="skilling")
    with pytest.raises(ValueError, match="finite"):
        d.ode_log_likelihood(sde, score, np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="score_fn must return"):
        d.ode_log_likelihood(sde, lambda x, t: x[:, :1], np.zeros((2, 2)))


def test_ddim_encoder_inverts_the_decoder():
    """x_0 -> x_T -> x_0 at eta = 0 with the exact eps: back to within 2e-2 in 1000 steps, and
    the error shrinks like the steps' length (first order: 5x the steps, about 5x smaller)."""
    eps = GAUSSIAN.schedule_eps(SCHEDULE)
    x0 = GAUSSIAN.sample(50, np.random.default_rng(8))
    errors = []
    for steps in (200, 1000):
        x_T = d.ddim_encode(SCHEDULE, eps, x0, steps=steps)
        back = d.ddim(SCHEDULE, eps, x0.shape, np.random.default_rng(9), steps=steps, x_T=x_T)
        errors.append(np.abs(back - x0).max())
    assert errors[1] < 2e-2 and errors[1] < errors[0] / 3, errors


@pytest.mark.parametrize("sde_name", list(SDES))
def test_forward_kernels_match_a_simulation_of_the_sde(sde_name):
    """Euler-Maruyama on dx = f dt + g dW from x_0 = 0.8 with 2000 steps: at t = 0.02, 0.3 and
    1 the 20000 chains' mean and std are within 4.5 standard errors of the kernel's m x_0 and
    s (plus the Euler bias, below 1e-3 relative at this step)."""
    sde, rng = SDES[sde_name], np.random.default_rng(10)
    x0 = np.full((20000, 1), 0.8)
    x, t, dt, checks = x0.copy(), 0.0, 1 / 2000, {40: 0.02, 600: 0.3, 2000: 1.0}
    for step in range(1, 2001):
        drift, g = sde.sde(x, t)
        x = x + drift * dt + g[:, None] * math.sqrt(dt) * rng.standard_normal(x.shape)
        t = step * dt
        if step in checks:
            mean, std = sde.marginal(x0, checks[step])
            s = std[0]
            assert abs(x.mean() - mean[0, 0]) < 4.5 * s / math.sqrt(len(x)) + 1e-3 * abs(mean[0, 0])
            assert abs(x.std() - s) < 4.5 * s / math.sqrt(2 * len(x)) + 1e-3 * s


def counted(fn):
    def wrapper(x, t):
        wrapper.calls += 1
        return fn(x, t)

    wrapper.calls = 0
    return wrapper


@pytest.mark.parametrize("name", ["euler_maruyama", "predictor_corrector", "probability_flow_ode",
                                  "probability_flow_heun", "ancestral", "ddim_eta0"])  # fmt: skip
def test_each_sampler_reports_its_true_number_of_evaluations(name):
    rng = np.random.default_rng(11)
    if name in ("ancestral", "ddim_eta0"):
        fn = counted(GAUSSIAN.schedule_eps(SCHEDULE))
        call = {"ancestral": lambda: d.ddpm_ancestral(SCHEDULE, fn, (10, 2), rng, return_nfe=True),
                "ddim_eta0": lambda: d.ddim(SCHEDULE, fn, (10, 2), rng, steps=20,
                                            return_nfe=True)}[name]  # fmt: skip
        expected = {"ancestral": 1000, "ddim_eta0": 20}[name]
    else:
        sde = SDES["vp"]
        fn = counted(GAUSSIAN.sde_score(sde))
        call = {
            "euler_maruyama": lambda: d.euler_maruyama(sde, fn, (10, 2), rng, steps=50,
                                                       return_nfe=True),
            "predictor_corrector": lambda: d.predictor_corrector(sde, fn, (10, 2), rng,
                                                                 steps=50, corrector_steps=2,
                                                                 return_nfe=True),
            "probability_flow_ode": lambda: d.probability_flow_ode(sde, fn, (10, 2), rng,
                                                                   return_nfe=True),
            "probability_flow_heun": lambda: d.probability_flow_heun(sde, fn, (10, 2), rng,
                                                                     steps=30, return_nfe=True),
        }[name]  # fmt: skip
        expected = {"euler_maruyama": 50, "predictor_corrector": 150,
                    "probability_flow_heun": 60}.get(name)  # fmt: skip
    _, nfe = call()
    assert nfe == fn.calls
    if expected is not None:
        assert nfe == expected


def test_trajectories_start_at_the_prior_and_end_at_the_samples():
    sde = SDES["ve"]
    score = GAUSSIAN.sde_score(sde)
    rng = np.random.default_rng(12)
    x, path = d.euler_maruyama(sde, score, (7, 2), rng, steps=40, return_trajectory=True)
    assert path.shape == (41, 7, 2) and np.array_equal(path[-1], x)
    assert path[0].std() > 10  # VE's prior is N(0, 50^2 I)
    x, path, nfe = d.probability_flow_ode(sde, score, (7, 2), rng, return_trajectory=True,
                                          return_nfe=True)  # fmt: skip
    assert path.shape == (101, 7, 2) and np.allclose(path[-1], x) and nfe > 0
    x, path = d.ddim(SCHEDULE, GAUSSIAN.schedule_eps(SCHEDULE), (7, 2), rng, steps=10,
                     return_trajectory=True)  # fmt: skip
    assert path.shape == (11, 7, 2) and np.array_equal(path[-1], x)


def test_samplers_refuse_bad_input_in_one_line():
    sde, score = SDES["vp"], GAUSSIAN.sde_score(SDES["vp"])
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="shape"):
        d.euler_maruyama(sde, score, (5,), rng)
    with pytest.raises(ValueError, match="eps"):
        d.euler_maruyama(sde, score, (5, 2), rng, eps=2.0)
    with pytest.raises(ValueError, match="predictor"):
        d.predictor_corrector(sde, score, (5, 2), rng, predictor="heun")
    with pytest.raises(ValueError, match="chains' shape"):
        d.euler_maruyama(sde, lambda x, t: x[:, :1], (5, 2), rng, steps=3)
    with pytest.raises(ValueError, match="eta"):
        d.ddim(SCHEDULE, GAUSSIAN.schedule_eps(SCHEDULE), (5, 2), rng, eta=-1)
    with pytest.raises(ValueError, match="VPSDE"):
        d.VPSDE(beta_min=1.0, beta_max=0.5)


def test_a_ddpm_eps_is_the_vp_sdes_score():
    """Ho et al.'s linear schedule discretises VP(0.1, 20) at any T, and the exact eps of the
    discrete chain, as a score, is within 1% (relative) of the SDE's exact score at T = 1000
    (the chain's alpha_bar and the SDE's differ at second order in 1 / T); PC sampling with it
    reproduces the data's moments. A cosine schedule is refused in one line."""
    for steps in (100, 1000):
        sde = d.vp_sde_for(d.NoiseSchedule("linear", steps))
        assert (sde.beta_min, sde.beta_max) == pytest.approx((0.1, 20.0))
    schedule, rng = d.NoiseSchedule("linear", 1000), np.random.default_rng(0)
    sde = d.vp_sde_for(schedule)
    score = d.score_from_eps(schedule, GAUSSIAN.schedule_eps(schedule))
    t = rng.uniform(0.05, 1.0, 500)
    x = sde.marginal(GAUSSIAN.sample(500, rng), t)[0] + rng.standard_normal((500, 2)) * 0.3
    exact = GAUSSIAN.sde_score(sde)(x, t)
    assert np.linalg.norm(score(x, t) - exact) / np.linalg.norm(exact) < 0.01
    samples = d.predictor_corrector(sde, score, (4000, 2), rng, 200)
    assert np.allclose(samples.mean(axis=0), GAUSSIAN.mean, atol=0.1)
    with pytest.raises(ValueError, match="only the linear schedule"):
        d.vp_sde_for(d.NoiseSchedule("cosine", 100))
