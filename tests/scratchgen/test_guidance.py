"""Classifier and classifier-free guidance (``scratchgen.diffusion.guidance``) on a two-class
Gaussian mixture, where the noised class-conditional noise, the unconditional noise and the
noisy classifier's gradient are all closed forms (``scratchgen.diffusion.targets``): the exact
classifier at s = 1 turns the unconditional noise into the conditional one, so the sampler
reproduces the class; w = 0 and s = 0 are the plain samplers bit for bit; and guidance beyond
them sharpens the samples toward their class."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchgen import diffusion as d
from scratchgen.diffusion.targets import GaussianMixtureData
from tests.scratchgen.test_diffusion_samplers import assert_reproduces

# overlapping classes, so that a class's own samples are often claimed by the other class
MIXTURE = GaussianMixtureData([[-1.0, 0.0], [1.0, 0.5]], 0.8)
SCHEDULE = d.NoiseSchedule(steps=300)
N = 2000


def eps_of(data):
    return data.schedule_eps(SCHEDULE)


def never(x, t):
    raise AssertionError("the null pass ran without guidance")


@settings(max_examples=25, deadline=None)
@given(st.floats(0, 10), st.integers(0, 2**32 - 1))
def test_guided_eps_is_the_papers_combination_and_w_zero_is_the_conditional_itself(w, seed):
    rng = np.random.default_rng(seed)
    cond, uncond = rng.standard_normal((2, 5, 3))
    np.testing.assert_allclose(d.guided_eps(cond, uncond, w), (1 + w) * cond - w * uncond,
                               rtol=1e-12, atol=1e-12)  # fmt: skip
    # the equivalent form of much public code, eps_u + g (eps_c - eps_u), with g = 1 + w
    np.testing.assert_allclose(d.guided_eps(cond, uncond, w),
                               uncond + (1 + w) * (cond - uncond), atol=1e-9)  # fmt: skip
    assert d.guided_eps(cond, uncond, 0.0) is cond


def test_without_guidance_the_samplers_are_the_plain_ones_sample_for_sample():
    cond = eps_of(MIXTURE.component(0))
    assert d.classifier_free(cond, never, 0.0) is cond
    assert d.classifier_guided(cond, SCHEDULE, never, 0.0) is cond
    plain = d.ddpm_ancestral(SCHEDULE, cond, (50, 2), np.random.default_rng(3))
    unguided = d.ddpm_ancestral(SCHEDULE, d.classifier_free(cond, never, 0.0), (50, 2),
                                np.random.default_rng(3))  # fmt: skip
    np.testing.assert_array_equal(unguided, plain)


def test_negative_weights_are_refused():
    eps = eps_of(MIXTURE)
    with pytest.raises(ValueError, match="w must be >= 0"):
        d.classifier_free(eps, eps, -1.0)
    with pytest.raises(ValueError, match="s must be >= 0"):
        d.classifier_guided(eps, SCHEDULE, eps, -0.5)


@pytest.mark.parametrize("k", [0, 1])
def test_the_exact_classifier_at_scale_one_turns_the_marginal_noise_into_the_classs(k):
    rng = np.random.default_rng(k)
    x, t = 2 * rng.standard_normal((400, 2)), rng.integers(0, SCHEDULE.T, 400)
    guided = d.classifier_guided(eps_of(MIXTURE), SCHEDULE,
                                 MIXTURE.schedule_classifier_grad(SCHEDULE, k), 1.0)  # fmt: skip
    np.testing.assert_allclose(guided(x, t), eps_of(MIXTURE.component(k))(x, t), atol=1e-10)


def test_classifier_guidance_with_the_exact_classifier_samples_the_class():
    grad = MIXTURE.schedule_classifier_grad(SCHEDULE, 1)
    guided = d.classifier_guided(eps_of(MIXTURE), SCHEDULE, grad, 1.0)
    x = d.ddpm_ancestral(SCHEDULE, guided, (N, 2), np.random.default_rng(0))
    assert_reproduces(x, MIXTURE.component(1), 1)


def class_posterior(x, k):
    """q(k | x) under the clean mixture."""
    joint = np.stack([c.log_prob(x) for c in (MIXTURE.component(0), MIXTURE.component(1))])
    return np.exp(joint[k] - np.logaddexp(joint[0], joint[1]))


def chain(eps_fn):
    return d.ddpm_ancestral(SCHEDULE, eps_fn, (N, 2), np.random.default_rng(5))


def test_more_guidance_gives_samples_the_class_claims_more_surely():
    """At w = 0 the samples are the class's own, and the mixture's posterior for the class
    averages well under 1 on them (0.85); more guidance must raise it, step by step (each gap
    many times its standard error of about 0.005)."""
    k, cond, uncond = 0, eps_of(MIXTURE.component(0)), eps_of(MIXTURE)
    posterior = [class_posterior(chain(d.classifier_free(cond, uncond, w)), k).mean()
                 for w in (0.0, 1.0, 4.0)]  # fmt: skip
    assert posterior[0] < 0.9, posterior
    assert np.all(np.diff(posterior) > 0.03), posterior


@pytest.mark.parametrize("w", [0.0, 1.5, 4.0])
def test_with_exact_densities_classifier_free_guidance_is_classifier_guidance_at_one_plus_w(w):
    """Ho & Salimans' implicit classifier: when eps(x, c) and eps(x) are exact, (1 + w)
    eps(x, c) - w eps(x) = eps(x) - (1 + w) sqrt(1 - alpha_bar) grad log q(c | x_t), so the
    two chains, on the same draws, agree to rounding."""
    k, cond, uncond = 1, eps_of(MIXTURE.component(1)), eps_of(MIXTURE)
    grad = MIXTURE.schedule_classifier_grad(SCHEDULE, k)
    free = chain(d.classifier_free(cond, uncond, w))
    guided = chain(d.classifier_guided(uncond, SCHEDULE, grad, 1 + w))
    np.testing.assert_allclose(free, guided, atol=1e-8)


def test_a_learned_variance_rides_along_with_the_conditional_prediction():
    def cond(x, t):
        return np.ones_like(x), np.full_like(x, -2.0)

    def uncond(x, t):
        return np.zeros_like(x), np.full_like(x, 7.0)

    x, t = np.zeros((3, 2)), np.array([1, 2, 3])
    eps, log_var = d.classifier_free(cond, uncond, 2.0)(x, t)
    np.testing.assert_array_equal(eps, np.full((3, 2), 3.0))
    np.testing.assert_array_equal(log_var, np.full((3, 2), -2.0))
    eps, log_var = d.classifier_guided(cond, SCHEDULE, lambda x, t: np.ones_like(x), 1.0)(x, t)
    expected = 1 - np.sqrt(1 - SCHEDULE.alpha_bar[t])[:, None]
    np.testing.assert_allclose(eps, np.broadcast_to(expected, (3, 2)))
    np.testing.assert_array_equal(log_var, np.full((3, 2), -2.0))


def test_the_nearest_step_of_each_alpha_bar_is_its_own_and_the_ends_clamp():
    np.testing.assert_array_equal(SCHEDULE.nearest(SCHEDULE.alpha_bar), np.arange(SCHEDULE.T))
    ab = SCHEDULE.alpha_bar
    between = ab[11] * (ab[10] / ab[11]) ** 0.6  # in log, 60% of the way from step 11 to 10
    np.testing.assert_array_equal(SCHEDULE.nearest([1.0, between, 0.0]), [0, 10, SCHEDULE.T - 1])


def time_of(sde, alpha_bar):
    """The t at which the SDE's kernel, rescaled to unit total variance, has this alpha_bar:
    m^2 / (m^2 + s^2) = alpha_bar."""
    from scipy.optimize import brentq

    def gap(t):
        m, s = sde.kernel(t)
        return float(m[0] ** 2 / (m[0] ** 2 + s[0] ** 2)) - alpha_bar

    return brentq(gap, 1e-9, sde.T, xtol=1e-15, rtol=1e-15)


@pytest.mark.parametrize("sde", [d.VPSDE(), d.SubVPSDE(), d.VESDE()], ids=["vp", "subvp", "ve"])
@pytest.mark.parametrize("k", [0, 1])
def test_the_exact_classifier_turns_an_sdes_marginal_score_into_the_classs(sde, k):
    """At the times when the SDE's rescaled kernel has one of the schedule's alpha_bar, the
    rescaling is exact: the guided score at s = 1 is the class's own score."""
    rng = np.random.default_rng(k)
    steps = [5, 60, 150, 250]
    t = np.repeat([time_of(sde, SCHEDULE.alpha_bar[i]) for i in steps], 50)
    m, s = sde.kernel(t)
    x = np.sqrt(m**2 + s**2)[:, None] * 2 * rng.standard_normal((len(t), 2))
    classifier = MIXTURE.schedule_classifier_grad(SCHEDULE, k)
    guided = d.sde_classifier_guided(MIXTURE.sde_score(sde), sde, SCHEDULE, classifier, 1.0)
    exact = MIXTURE.component(k).sde_score(sde)(x, t)
    np.testing.assert_allclose(guided(x, t), exact, rtol=1e-7, atol=1e-7 * np.abs(exact).max())


def test_the_sde_rule_at_scale_zero_is_the_score_itself_and_a_negative_scale_is_refused():
    score = MIXTURE.sde_score(d.VPSDE())
    assert d.sde_classifier_guided(score, d.VPSDE(), SCHEDULE, never, 0.0) is score
    with pytest.raises(ValueError, match="s must be >= 0"):
        d.sde_classifier_guided(score, d.VPSDE(), SCHEDULE, never, -1.0)
