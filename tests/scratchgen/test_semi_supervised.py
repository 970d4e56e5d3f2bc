"""The semi-supervised VAE (M2): its two bounds against a marginal computed by quadrature,
the label hiding, and a classifier learned from ten labels per digit."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import logsumexp

import autodiff as ad
from scratchgen import data, models, train
from scratchgen.models.latent.semi_supervised import few_labels

TINY = data.DataInfo((1, 2, 2), "binary")
SPACE = np.array(list(itertools.product([0, 1], repeat=4)), dtype=float).reshape(-1, 1, 2, 2)
GRID = np.linspace(-12, 12, 24_001)


@given(seed=st.integers(0, 2**32 - 1), per_class=st.integers(1, 5))
def test_few_labels_keeps_that_many_of_each_class(seed, per_class):
    labels = np.random.default_rng(seed).integers(0, 4, size=60)
    kept = few_labels(labels, per_class, seed)
    for c in range(4):
        assert np.sum(kept == c) == min(per_class, np.sum(labels == c))
    assert np.all((kept == -1) | (kept == labels))


def tiny_m2(seed):
    model = models.create("m2", TINY, latent=1, hidden=(6,), num_classes=2, dtype=np.float64)
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data = rng.standard_normal(p.shape)
    last = model.encoder.head.net[-1]  # q(z | x, y) as wide as the prior and near it
    last.weight.data[0] *= 0.2
    last.bias.data[0] = 0.0
    last.weight.data[1] = 0.0
    last.bias.data[1] = np.log(1.5)
    return model


def exact_log_joint(model):
    """log p(x, y) = log p(y) + log of the sum over the z grid of p(x | y, z) N(z) dz, for the
    16 images and both classes: (16, 2)."""
    log_pz = -0.5 * GRID**2 - 0.5 * np.log(2 * np.pi)
    dz = GRID[1] - GRID[0]
    columns = []
    with ad.no_grad():
        for c in range(2):
            likelihood = model.likelihood(ad.Tensor(GRID[:, None, None]), c)
            log_px_z = likelihood.log_prob(model.targets(ad.Tensor(SPACE))).data  # (G, 16)
            columns.append(logsumexp(log_px_z + log_pz[:, None], axis=0) + np.log(dz))
    return np.stack(columns, axis=1) - np.log(2)


def test_labelled_and_unlabelled_bounds_sit_below_the_exact_log_probabilities():
    model = tiny_m2(0)
    log_joint = exact_log_joint(model)
    log_px = logsumexp(log_joint, axis=1)
    assert np.exp(log_px).sum() == pytest.approx(1.0, abs=1e-6)
    with ad.no_grad():
        unlabelled = np.stack([model.elbo(SPACE).data for _ in range(2000)])
        labelled = np.stack([model.elbo(SPACE, np.ones(16, int)).data for _ in range(2000)])
        estimate = model.log_prob(SPACE, k=2000).data
    for draws, exact in ((unlabelled, log_px), (labelled, log_joint[:, 1])):
        se = draws.std(0) / np.sqrt(len(draws))
        assert np.all(draws.mean(0) < exact + 6 * se)
    np.testing.assert_allclose(estimate, log_px, atol=0.05)


def test_training_data_hides_all_but_a_few_labels_and_needs_labels():
    digits = data.load("digits_binary")
    model = models.create("m2", digits.info, labels_per_class=3)
    seen = model.training_data(digits)
    assert np.sum(seen.train_labels >= 0) == 30
    np.testing.assert_array_equal(seen.test_labels, digits.test_labels)
    with pytest.raises(ValueError, match="has none"):
        model.training_data(data.from_array(digits.train[:, 0], kind="binary"))


@pytest.mark.slow
def test_ten_labels_per_digit_teach_the_classifier():
    """100 labelled and 1338 unlabelled binary digits; a uniform guess scores 10%."""
    digits = data.load("digits_binary")
    model = models.create("m2", digits.info, hidden=(64,), eval_samples=10)
    metrics = train.fit(model, digits, progress=False, steps=400, batch_size=64, lr=3e-3,
                        eval_every=10**9)  # fmt: skip
    assert metrics["test_accuracy"] > 0.75
    assert metrics["test_nll"] < 25
