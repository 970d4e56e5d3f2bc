"""Latent-variable models: the bounds against exact log-likelihoods, and the VAE's options.

Two places where log p(x) is exact: the linear-Gaussian model (closed form), and a VAE with
one latent dimension on 2x2 binary images, whose marginal p(x) = integral of p(x | z) N(z; 0, 1)
dz is computed by quadrature on a fine grid. Monte Carlo checks use fixed seeds and a
6-standard-error bound (a false failure about once in 10^9 runs per check).
"""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import logsumexp

import autodiff as ad
from scratchgen import data, models, train
from scratchgen import distributions as D
from scratchgen.models.latent import bounds
from scratchgen.testing import assert_samples_match

SE = 6


def within(samples, expected, k=SE):
    """|mean - expected| < k standard errors, per column."""
    samples = np.asarray(samples)
    se = samples.std(axis=0) / np.sqrt(len(samples))
    assert np.all(np.abs(samples.mean(axis=0) - expected) < k * se + 1e-9)


# ---------------------------------------------------------------- linear-Gaussian: exact
def linear_gaussian(seed, d=3, latent=2):
    model = models.create("linear_gaussian", data.DataInfo((d,), "continuous"), latent=latent,
                          dtype=np.float64)  # fmt: skip
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data = 0.7 * rng.standard_normal(p.shape)
    return model, rng.standard_normal((5, d))


@given(seed=st.integers(0, 2**32 - 1), d=st.integers(1, 4), latent=st.integers(1, 3))
def test_elbo_gap_is_the_kl_to_the_exact_posterior(seed, d, latent):
    """log p(x) - ELBO_q(x) = KL(q || p(z | x)) >= 0: equality at the posterior itself."""
    model, x = linear_gaussian(seed, d, latent)
    log_px = model.log_prob(x).data
    posterior = model.exact_posterior(x)
    np.testing.assert_allclose(model.elbo_closed_form(x, posterior).data, log_px, rtol=1e-9)
    for q in (model.posterior(ad.Tensor(x)),  # the amortised diagonal q of the model
              D.MultivariateNormal(np.random.default_rng(seed).standard_normal((5, latent)),
                                   scale_tril=0.5 * np.eye(latent))):  # fmt: skip
        full_q = (
            q
            if isinstance(q, D.MultivariateNormal)
            else D.MultivariateNormal(q.base.mean, scale_tril=np.eye(latent) * q.base.scale.data)
        )
        gap = log_px - model.elbo_closed_form(x, q).data
        np.testing.assert_allclose(gap, D.kl_divergence(full_q, posterior).data, atol=1e-9)
        assert np.all(gap >= -1e-12)


@pytest.mark.parametrize("kl", ["analytic", "mc"])
def test_monte_carlo_elbo_estimators_are_unbiased(kl):
    """Both estimators of Kingma & Welling (eq. 6 and 7) average to the closed-form ELBO."""
    model, x = linear_gaussian(1)
    q = model.posterior(ad.Tensor(x))
    exact = model.elbo_closed_form(x, q).data
    rng = np.random.default_rng(2)
    draws = np.stack([bounds.elbo(x, q, model.prior(), model.likelihood, rng, 1, kl).data
                      for _ in range(20_000)])  # fmt: skip
    within(draws, exact)


def test_iwae_bound_rises_with_k_towards_log_p():
    """E[L_1] <= E[L_4] <= E[L_16] <= E[L_64] <= log p(x), and L_K -> log p(x) (Burda et al.,
    theorem 1). q is the posterior shifted by half a unit and 1.5 times as wide: far enough for
    large steps, and wider than the posterior so that the importance weights stay bounded and
    the large-K estimate settles (a q narrower than the posterior gives heavy-tailed weights)."""
    model, x = linear_gaussian(3)
    log_px = model.log_prob(x).data
    posterior = model.exact_posterior(x)
    q = D.MultivariateNormal(posterior.loc.data + 0.5, scale_tril=1.5 * posterior.scale_tril.data)
    rng = np.random.default_rng(4)
    pieces = (x, q, model.prior(), model.likelihood, rng)
    means, ses = [], []
    for k in (1, 4, 16, 64):
        draws = np.stack([bounds.iwae_bound(*pieces, k).data for _ in range(3000)])
        means.append(draws.mean(0))
        ses.append(draws.std(0) / np.sqrt(len(draws)))
    for low, high, se_low, se_high in zip(means[:-1], means[1:], ses[:-1], ses[1:]):
        assert np.all(high - low > -SE * np.hypot(se_low, se_high))
    assert np.all(means[-1] < log_px + SE * ses[-1])
    assert np.all(means[-1] - means[0] > 0.05)  # a real rise, not a flat estimator
    large_k = bounds.iwae_bound(*pieces, 20_000, chunk=5000).data
    np.testing.assert_allclose(large_k, log_px, atol=0.02)


def test_maximum_likelihood_and_elbo_training_both_fit_a_low_rank_gaussian():
    """Data from a rank-1 Gaussian in 3-D: exact ML reaches the data's own test NLL, and the
    ELBO with a linear encoder ends within a few hundredths of a nat of its own log p(x)."""
    rng = np.random.default_rng(5)
    w = np.array([[2.0], [-1.0], [0.5]])
    x = rng.standard_normal((4000, 1)) @ w.T + 0.3 * rng.standard_normal((4000, 3))
    dataset = data.from_array(x, kind="continuous")
    truth = D.MultivariateNormal(np.zeros(3), covariance_matrix=w @ w.T + 0.09 * np.eye(3))
    best = -truth.log_prob(dataset.test).data.mean()
    for objective in ("likelihood", "elbo"):
        model = models.create("linear_gaussian", dataset.info, latent=1, objective=objective)
        metrics = train.fit(model, dataset, progress=False, steps=1500, lr=0.02, batch_size=200,
                            eval_every=10**9)  # fmt: skip
        assert metrics["test_nll"] < best + 0.03
        if objective == "elbo":  # the amortised q's exact ELBO: below log p(x), and close
            x = dataset.test
            gap = model.log_prob(x).data - model.elbo_closed_form(x, model.posterior(x)).data
            assert np.all(gap >= -1e-5) and gap.mean() < 0.05


# ---------------------------------------------------------------- a VAE with one latent
TINY = data.DataInfo((1, 2, 2), "binary")
SPACE = np.array(list(itertools.product([0, 1], repeat=4)), dtype=float).reshape(-1, 1, 2, 2)
GRID = np.linspace(-12, 12, 48_001)


def tiny_vae(seed, name="vae", **settings):
    """N(0, 1) parameters (a zero or tiny start would make p(x | z) flat), except q: its
    standard deviation is 1.5 everywhere, wider than the prior, and its mean stays within
    about one unit of 0, where the prior's mass is. Then the importance weights
    p(x, z) / q(z | x) stay bounded and large-K estimates settle (a q narrower than the
    posterior, or far from it, gives heavy-tailed weights, and K = 5000 can be off by a nat)."""
    model = models.create(name, TINY, latent=1, hidden=(6,), dtype=np.float64, **settings)
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data = rng.standard_normal(p.shape)
    last = model.encoder.head.net[-1]  # outputs (mu, log sigma)
    last.weight.data[0] *= 0.2
    last.bias.data[0] = 0.0
    last.weight.data[1] = 0.0
    last.bias.data[1] = np.log(1.5)
    if name == "gmvae":  # the prior's components no wider than 1, for the same reason
        model.prior_log_scales.data = -np.abs(model.prior_log_scales.data)
    return model


def exact_log_marginal(model):
    """log p(x) for the 16 images: log of the sum over the z grid of p(x | z) p(z) dz."""
    with ad.no_grad():
        z = ad.Tensor(GRID[:, None, None])  # (G, 1, L=1)
        log_px_z = model.likelihood(z).log_prob(model.targets(ad.Tensor(SPACE))).data  # (G, 16)
        log_pz = model.prior().log_prob(GRID[:, None]).data  # (G,)
    return logsumexp(log_px_z + log_pz[:, None], axis=0) + np.log(GRID[1] - GRID[0])


@pytest.mark.parametrize("name, seed", [("vae", 0), ("vae", 1), ("gmvae", 2)])
def test_vae_marginal_is_normalised_and_its_bounds_sit_below_it(name, seed):
    """For the GMVAE the prior is a mixture of three Gaussians with random means and scales:
    the quadrature uses it, and its KL term is estimated by Monte Carlo."""
    model = tiny_vae(seed, name, **({"prior_components": 3} if name == "gmvae" else {}))
    log_px = exact_log_marginal(model)
    assert np.exp(log_px).sum() == pytest.approx(1.0, abs=1e-6)
    with ad.no_grad():
        elbo = np.stack([model.elbo(SPACE).data for _ in range(4000)])
        log_w = np.concatenate([bounds.log_weights(
            model.targets(ad.Tensor(SPACE)), model.posterior(ad.Tensor(SPACE)), model.prior(),
            model.likelihood, 500, model.rng).data for _ in range(20)])  # fmt: skip
        estimate = model.log_prob(SPACE, k=5000).data
    assert np.all(elbo.mean(0) < log_px + SE * elbo.std(0) / np.sqrt(len(elbo)))
    # the importance-sampling estimate of p(x), the mean of the weights, is unbiased
    weights = np.exp(log_w)
    within(weights, np.exp(log_px))
    se_of_total = np.sqrt(np.sum(weights.var(0) / len(weights)))  # the 16 estimates' sum
    assert abs(weights.mean(0).sum() - 1.0) < SE * se_of_total
    # log of a mean of K weights: its standard error is about std(w) / (mean(w) sqrt(K))
    tolerance = SE * weights.std(0) / (weights.mean(0) * np.sqrt(5000)) + 0.01
    assert np.all(np.abs(estimate - log_px) < tolerance)


def test_vae_samples_follow_its_marginal():
    model = tiny_vae(2)
    p = np.exp(exact_log_marginal(model))
    samples = model.sample(20_000, np.random.default_rng(3))
    assert_samples_match(samples, p)


def test_analytic_and_monte_carlo_kl_losses_have_one_expectation():
    analytic, mc = tiny_vae(4), tiny_vae(4, kl="mc")
    with ad.no_grad():
        a = np.array([analytic.loss(SPACE).item() for _ in range(5000)])
        m = np.array([mc.loss(SPACE).item() for _ in range(5000)])
    difference = a - m
    within(difference[:, None], 0.0)
    assert a.std() < m.std()  # the closed form removes the KL term's noise


def test_iwae_with_one_sample_is_the_vae_with_a_monte_carlo_kl():
    vae, iwae = tiny_vae(5, kl="mc"), tiny_vae(5)
    iwae.objective, iwae.hparams["samples"] = "iwae", 1
    with ad.no_grad():
        assert vae.loss(SPACE).item() == pytest.approx(iwae.loss(SPACE).item(), rel=1e-12)


def test_free_bits_floor_and_kl_warm_up():
    """With the same draws, free bits replace the batch-average KL of each dimension by
    max(lambda, KL): the losses differ by exactly that."""
    plain, floored = tiny_vae(6), tiny_vae(6, free_bits=12.0)
    with ad.no_grad():
        kl_bar = plain.kl_per_dimension(SPACE).sum()
        difference = floored.loss(SPACE).item() - plain.loss(SPACE).item()
    assert kl_bar < 12.0  # so the floor is active
    assert difference == pytest.approx(12.0 - kl_bar, rel=1e-10)
    warm = tiny_vae(6, kl_warmup=10, beta=2.0)
    weights = []
    for _ in range(12):
        weights.append(warm.kl_weight())
        warm.loss(SPACE)  # a training-mode call with gradients enabled counts as an update
    np.testing.assert_allclose(weights, [2.0 * min(1, t / 10) for t in range(12)])
    with ad.no_grad():
        warm.loss(SPACE)  # evaluation does not advance the schedule
    assert warm.kl_weight() == 2.0 and int(warm.updates) == 12


def test_a_dimension_whose_posterior_is_the_prior_is_inactive_and_carries_no_kl():
    model = models.create("vae", data.load("digits_binary").info, latent=3, hidden=(16,))
    last = model.encoder.head.net[-1]
    for row in (1, 4):  # mu_1 and log sigma_1 of latent dimension 1
        last.weight.data[row] = 0.0
        last.bias.data[row] = 0.0
    x = data.load("digits_binary").test[:200]
    kl = model.kl_per_dimension(x)
    assert kl.shape == (3,) and kl[1] == pytest.approx(0.0, abs=1e-7) and np.all(kl >= 0)
    assert model.active_units(x, threshold=0.0) == 2


def test_convolutional_decoder_puts_each_pixels_levels_together():
    """With zero weights, every pixel's logits are the bias pattern over the 5 levels: the
    expected level is the same everywhere, and equals the softmax average of the levels."""
    info = data.DataInfo((1, 8, 8), "categorical", 5)
    model = models.create("vae", info, latent=2, arch="conv", filters=4)
    last = model.decoder.upsample[-1]
    last.weight.data[...] = 0.0
    last.bias.data[...] = np.arange(5) * 0.7
    means = model.decode_mean(np.zeros((2, 2)))
    p = np.exp(np.arange(5) * 0.7) / np.exp(np.arange(5) * 0.7).sum()
    np.testing.assert_allclose(means, np.full((2, 1, 8, 8), p @ np.arange(5)), rtol=1e-5)


def test_conditional_vae_needs_labels_and_samples_each_class():
    digits = data.load("digits_binary")
    model = models.create("vae", digits.info, latent=4, hidden=(32,), num_classes=10)
    with pytest.raises(ValueError, match="give the labels y"):
        model.loss(digits.train[:8])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 10\)"):
        model.loss(digits.train[:8], np.full(8, 10))
    metrics = train.fit(model, digits, progress=False, steps=300, batch_size=64, lr=3e-3,
                        eval_every=10**9)  # fmt: skip
    assert metrics["test_nll"] < 30
    assert model.sample(3, np.random.default_rng(0), y=7).shape == (3, 1, 8, 8)


def test_bad_settings_are_one_line_errors():
    info = data.DataInfo((5,), "binary")
    for settings, message in [({"kl": "exact"}, "kl must be one of 'analytic', 'mc'"),
                              ({"arch": "conv"}, "needs images"),
                              ({"latent": 0}, "latent must be an integer from 1")]:  # fmt: skip
        with pytest.raises(ValueError, match=message) as error:
            models.create("vae", info, **settings)
        assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "name, settings", [("vae", {}), ("iwae", {}), ("vae", {"arch": "conv"}), ("gmvae", {})]
)
def test_vae_family_learns_the_binary_digits(name, settings):
    """A uniform model scores 64 log 2 = 44.4 nats; 600 steps bring each below 22, with the
    IWAE estimate of log p(x) above the ELBO, as it must be in expectation."""
    digits = data.load("digits_binary")
    model = models.create(name, digits.info, latent=8, hidden=(128,), filters=8, **settings)
    metrics = train.fit(model, digits, progress=False, steps=600, batch_size=64, lr=3e-3,
                        eval_every=10**9)  # fmt: skip
    assert metrics["test_nll"] < 22
    assert -metrics["test_nll"] > metrics["test_elbo"] - 0.1
    assert {"test_loss", "test_elbo", "test_bpd", "iwae_samples"} <= set(metrics)


def test_inpainting_vae_keeps_the_given_half_and_is_surer_of_the_rest():
    """Conditioned on the top half, the bound on log p(x | x_top) is far above the
    unconditional bound on log p(x) after the same training: the condition is used."""
    digits = data.load("digits_binary")
    fits = {}
    for inpaint in ("top", ""):
        model = models.create("vae", digits.info, latent=8, hidden=(128,), inpaint=inpaint)
        fits[inpaint] = train.fit(model, digits, progress=False, steps=500, batch_size=64,
                                  lr=3e-3, eval_every=10**9)["test_elbo"]  # fmt: skip
        if inpaint:
            completed = model.sample(6, np.random.default_rng(0), given=digits.test[:6])
            np.testing.assert_array_equal(completed[:, :, :4], digits.test[:6, :, :4])
            assert set(np.unique(completed)) <= {0.0, 1.0}
            with pytest.raises(ValueError, match="give the images to complete"):
                model.sample(2, np.random.default_rng(0))
    assert fits["top"] > fits[""] + 5


@pytest.mark.parametrize("settings, message", [
    ({"inpaint": "bottom"}, "inpaint must be one of '', 'top', 'left'"),
    ({"inpaint": "top", "num_classes": 3}, "not both"),
])  # fmt: skip
def test_bad_inpainting_settings_are_one_line_errors(settings, message):
    with pytest.raises(ValueError, match=message) as error:
        models.create("vae", data.DataInfo((1, 4, 4), "binary"), **settings)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("name, settings", [("vae", {}), ("vae", {"kl": "mc"}), ("gmvae", {})])
def test_the_elbo_is_its_reconstruction_term_minus_its_kl_term(name, settings):
    """With the same draw of z, ELBO = E_q[log p(x | z)] - KL, to rounding."""
    model = tiny_vae(7, name, **settings)
    state = model.rng.bit_generator.state
    with ad.no_grad():
        elbo = model.elbo(SPACE).data
        model.rng.bit_generator.state = state
        reconstruction, kl = model.elbo_terms(SPACE)
    np.testing.assert_allclose(elbo, reconstruction.data - kl.data, rtol=1e-12)
    metrics = train.evaluate(model, SPACE)
    assert {"test_reconstruction", "test_kl"} <= set(metrics)
