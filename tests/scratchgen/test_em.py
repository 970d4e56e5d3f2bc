"""EM for Gaussian mixtures: the log-likelihood never decreases, its fixed point is a
stationary point of the likelihood, and it agrees with the autodiff model it fits."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad
from scratchgen import data, models, train
from scratchgen.models.latent import em


def clustered(seed, n=300, d=2, clusters=3):
    rng = np.random.default_rng(seed)
    centres = 3 * rng.standard_normal((clusters, d))
    return centres[rng.integers(clusters, size=n)] + rng.standard_normal((n, d))


def mixture(d, components, covariance, seed=0):
    return models.create("gaussian_mixture", data.DataInfo((d,), "continuous"),
                         components=components, covariance=covariance, seed=seed,
                         dtype=np.float64)  # fmt: skip


@given(seed=st.integers(0, 2**32 - 1), d=st.integers(1, 3), components=st.integers(1, 4),
       covariance=st.sampled_from(em.COVARIANCES))  # fmt: skip
def test_em_never_decreases_the_log_likelihood(seed, d, components, covariance):
    x = clustered(seed, d=d)
    model = mixture(d, components, covariance, seed)
    model.initialize(x, np.random.default_rng(seed))
    history = model.fit_em(x, steps=40, tol=-np.inf)
    assert len(history) == 41
    assert np.all(np.diff(history) >= -1e-9 * np.abs(history[1:]))


@pytest.mark.parametrize("covariance", em.COVARIANCES)
def test_e_step_agrees_with_the_model_and_responsibilities_are_a_distribution(covariance):
    x = clustered(1)
    model = mixture(2, 3, covariance)
    model.initialize(x, np.random.default_rng(1))
    model.fit_em(x, steps=5)
    gamma, log_likelihood = em.e_step(x, model.mixture_parameters())
    np.testing.assert_allclose(gamma.sum(axis=1), 1.0)
    assert log_likelihood == pytest.approx(model.log_prob(x).data.sum(), rel=1e-10)


@pytest.mark.parametrize("covariance", em.COVARIANCES)
def test_parameters_round_trip_through_the_unconstrained_form(covariance):
    model = mixture(3, 4, covariance)
    model.initialize(clustered(2, d=3), np.random.default_rng(2))
    before = model.mixture_parameters()
    model.set_mixture_parameters(before)
    after = model.mixture_parameters()
    for a, b in [(before.weights, after.weights), (before.means, after.means),
                 (before.covariances, after.covariances)]:  # fmt: skip
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("covariance", em.COVARIANCES)
def test_the_em_fixed_point_is_a_stationary_point_of_the_likelihood(covariance):
    """At convergence, d/dtheta sum_n log p(x_n) = 0 for every parameter, computed by autodiff
    through the model that EM wrote into."""
    x = clustered(3, n=200)
    model = mixture(2, 2, covariance)
    model.initialize(x, np.random.default_rng(3))
    model.fit_em(x, steps=2000, tol=1e-14)
    params = list(model.parameters())
    grads = ad.grad(ad.mean(model.log_prob(x)), params)
    for g in grads:
        np.testing.assert_allclose(g.data, 0.0, atol=1e-5)


def test_full_covariance_density_integrates_to_one():
    model = mixture(2, 3, "full")
    model.initialize(clustered(4), np.random.default_rng(4))
    model.raw_tril.data[:, 1, 0] = [0.8, -0.5, 0.3]  # correlated components
    grid = np.linspace(-12, 12, 801)
    xx, yy = np.meshgrid(grid, grid)
    with ad.no_grad():
        density = np.exp(model.log_prob(np.stack([xx.ravel(), yy.ravel()], 1)).data)
    assert density.sum() * (grid[1] - grid[0]) ** 2 == pytest.approx(1.0, abs=1e-4)


def test_em_and_gradient_descent_reach_the_same_fit():
    """On eight Gaussians, 16 diagonal components: EM in 200 closed-form steps and Adam in
    2000 minibatch steps end within 0.03 nats of each other on the test set."""
    dataset = data.load("eight_gaussians")
    by_em = models.create("gaussian_mixture", dataset.info, components=16)
    by_em.initialize(dataset.train, np.random.default_rng(0))
    by_em.fit_em(dataset.train, steps=200)
    em_nll = -by_em.log_prob(dataset.test).data.mean()
    by_gradient = models.create("gaussian_mixture", dataset.info, components=16)
    metrics = train.fit(by_gradient, dataset, progress=False, steps=2000, lr=0.03,
                        batch_size=256, eval_every=10**9)  # fmt: skip
    assert abs(em_nll - metrics["test_nll"]) < 0.03


def test_unknown_covariance_is_a_one_line_error():
    with pytest.raises(ValueError, match="covariance must be one of 'full', 'diag'"):
        mixture(2, 2, "spherical")
