"""VQ-VAE: quantisation, the straight-through gradient, the EMA codebook, dead-code revival,
and a bound that stays a bound."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad
from scratchgen import data, models, train
from scratchgen.models.latent.vqvae import nearest_codes

TINY = data.DataInfo((1, 2, 2), "binary")
SPACE = np.array(list(itertools.product([0, 1], repeat=4)), dtype=float).reshape(-1, 1, 2, 2)


def tiny(**settings):
    return models.create("vqvae", TINY, codes=4, code_dim=3, filters=4, downsample=1,
                         prior_filters=4, prior_layers=1, dtype=np.float64,
                         **settings)  # fmt: skip


@given(seed=st.integers(0, 2**32 - 1), k=st.integers(2, 9), d=st.integers(1, 5))
def test_nearest_codes_is_the_argmin_of_the_distances(seed, k, d):
    rng = np.random.default_rng(seed)
    vectors, book = rng.standard_normal((20, d)), rng.standard_normal((k, d))
    brute = np.argmin(((vectors[:, None] - book[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(nearest_codes(vectors, book), brute)


def test_the_encoder_receives_the_decoders_input_gradient():
    """z_q = z_e + sg[e_k - z_e]: d f(z_q) / d z_e equals d f(e) / d e at e = e_k."""
    model = tiny()
    x = ad.Tensor(SPACE)
    z_e = ad.Tensor(model.encode(x).data, requires_grad=True)
    e_k = model.codebook[nearest_codes(z_e.data, model.codebook)]
    target = model.targets(x)

    def reconstruction(z):
        return ad.sum(model.observation.distribution(model.decode(z, len(SPACE))).log_prob(target))

    (through,) = ad.grad(reconstruction(z_e + (ad.Tensor(e_k) - z_e).detach()), z_e)
    at_codes = ad.Tensor(e_k, requires_grad=True)
    (direct,) = ad.grad(reconstruction(at_codes), at_codes)
    np.testing.assert_allclose(through.data, direct.data, rtol=1e-12)


def test_ema_codebook_is_the_running_average_of_its_assigned_vectors():
    model = tiny(decay=0.9, revive=False)
    z_e = model.encode(ad.Tensor(SPACE)).data
    k = nearest_codes(z_e, model.codebook)
    counts_before, sums_before = model.ema_counts.copy(), model.ema_sums.copy()
    model.loss(SPACE)  # a training-mode call with gradients on: one EMA step
    for j in range(4):
        n_j = np.sum(k == j)
        expected_count = 0.9 * counts_before[j] + 0.1 * n_j
        expected_sum = 0.9 * sums_before[j] + 0.1 * z_e[k == j].sum(axis=0)
        assert model.ema_counts[j] == pytest.approx(expected_count)
        np.testing.assert_allclose(model.codebook[j], expected_sum / expected_count, rtol=1e-10)


def test_trained_codebook_gets_the_codebook_loss_gradient():
    """With codebook='loss', d/de_j of sum ||sg[z_e] - e_k||^2 / n = 2 sum_{i: k_i = j}
    (e_j - z_e,i) / n; the rest of the loss does not reach the codebook except through the
    decoder's input, which is straight-through (its gradient goes to z_e instead)."""
    model = tiny(codebook="loss", revive=False)
    x = ad.Tensor(SPACE)
    z_e = model.encode(x).data
    k = nearest_codes(z_e, model.codebook.data)
    (grad,) = ad.grad(model.loss(SPACE), [model.codebook])
    expected = np.zeros_like(model.codebook.data)
    np.add.at(expected, k, 2 * (model.codebook.data[k] - z_e) / len(SPACE))
    np.testing.assert_allclose(grad.data, expected, rtol=1e-9, atol=1e-12)


def test_dead_codes_are_revived_onto_encoder_outputs():
    model = tiny()
    model.usage[:2] = 0.0  # codes 0 and 1 look dead
    model.loss(SPACE)
    z_e = model.encode(ad.Tensor(SPACE)).data
    assert int(model.revived) >= 2
    for j in (0, 1):  # each now sits on one of the batch's encoder outputs
        assert np.min(np.abs(z_e - model.codebook[j]).sum(axis=1)) < 1e-12


def test_the_elbo_is_a_bound_over_the_whole_space():
    """With a point-mass q, sum_x exp(ELBO(x)) = sum_x p(x | z(x)) p(z(x)) <= sum_x sum_z
    p(x | z) p(z) = 1: the ELBO never claims more probability than there is."""
    rng = np.random.default_rng(0)
    for seed in range(3):
        model = tiny(seed=seed)
        for p in model.parameters():
            p.data = rng.standard_normal(p.shape)
        with ad.no_grad():
            total = np.exp(model.elbo(SPACE).data).sum()
        assert 0 < total <= 1 + 1e-12


def test_vqvae_learns_the_digits_uses_its_codebook_and_samples():
    digits = data.load("digits_binary")
    model = models.create("vqvae", digits.info, codes=16, code_dim=8, filters=16)
    metrics = train.fit(model, digits, progress=False, steps=400, batch_size=64, lr=3e-3,
                        eval_every=10**9)  # fmt: skip
    assert -metrics["test_elbo"] < 30  # nats; a uniform model is at 44.4
    usage = model.codebook_usage(digits.test)
    assert usage["perplexity"] > 4 and usage["used"] > 0.5
    assert model.sample(5, np.random.default_rng(0)).shape == (5, 1, 8, 8)
    assert model.reconstruct(digits.test[:3]).shape == (3, 1, 8, 8)


@pytest.mark.parametrize("settings, message", [
    ({"codebook": "kmeans"}, "codebook must be one of 'loss', 'ema'"),
    ({"downsample": 3}, "divisible by 2\\^downsample = 8"),
    ({"codes": 1}, "codes must be an integer from 2"),
])  # fmt: skip
def test_bad_settings_are_one_line_errors(settings, message):
    with pytest.raises(ValueError, match=message) as error:
        models.create("vqvae", data.DataInfo((1, 4, 4), "binary"), **settings)
    assert "\n" not in str(error.value)
