"""NCSN: its noise levels (geometric, and the 2020 paper's techniques 1 and 2), a score network
that learns the closed-form score of the noised eight Gaussians, annealed Langevin that carries
noise to the data when given that score, and the image model on digits."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats
from scipy.special import softmax

from scratchgen import data, models, train
from scratchgen.data import DataInfo, toy2d
from scratchgen.models.energy.ncsn import largest_distance, technique_2_ratio

TOY = data.load("eight_gaussians")
CENTRES, STD = toy2d.MODES["eight_gaussians"]


def noised_score(x, sigma):
    """grad log of the eight Gaussians blurred by N(0, sigma^2 I): a mixture of
    N(c_k, (0.2^2 + sigma^2) I)."""
    v = STD**2 + sigma**2
    d = x[:, None, :] - np.asarray(CENTRES)[None]
    w = softmax(-0.5 * np.sum(d**2, axis=-1) / v, axis=1)
    return -np.sum(w[..., None] * d, axis=1) / v


def toy_ncsn(**settings):
    return models.create("ncsn", TOY.info, **{"sigma_max": None, "sigma_min": 0.05,
                                              "hidden": [64, 64], **settings})  # fmt: skip


# ---------------------------------------------------------------------- the levels
def test_the_default_levels_are_the_papers():
    model = models.create("ncsn", DataInfo((1, 8, 8), "categorical", 17), channels=8)
    np.testing.assert_allclose(model.sigmas, np.geomspace(1.0, 0.01, 10))
    assert model.hparams["eps"] == 2e-5 and model.hparams["steps_per_level"] == 100


def test_technique_1_takes_the_largest_distance_and_survives_a_checkpoint():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    brute = max(np.linalg.norm(a - b) for a, b in itertools.combinations(x, 2))
    assert largest_distance(x, rng) == pytest.approx(brute)
    model = toy_ncsn()
    model.initialize(x, rng)
    assert model.sigmas[0] == pytest.approx(brute)
    fresh = toy_ncsn()
    fresh.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(fresh.sigmas, model.sigmas)


@pytest.mark.parametrize("D", [5, 64, 784, 3072])
def test_technique_2_ratio_meets_its_overlap_rule(D):
    gamma, root = technique_2_ratio(D), math.sqrt(2 * D)
    a = root * (gamma - 1)
    assert stats.norm.cdf(a + 3 * gamma) - stats.norm.cdf(a - 3 * gamma) == pytest.approx(0.5)
    model = models.create("ncsn", DataInfo((D,), "continuous"), levels=None, sigma_max=1.0)
    steps = len(model.sigmas) - 1  # the fewest at a ratio no larger than gamma
    assert model.sigmas[-1] == pytest.approx(0.01)
    assert 100 ** (1 / steps) <= gamma < 100 ** (1 / max(steps - 1, 1e-9))


def test_technique_2_refuses_data_too_small_for_it():
    with pytest.raises(ValueError, match="needs at least 5 dimensions, the data has 2"):
        toy_ncsn(levels=None)


# ---------------------------------------------------------------------- the score and sampling
def test_the_network_learns_the_noised_datas_score_at_the_large_levels():
    """After 2000 steps the relative error E||s - grad log q_sigma||^2 / E||grad log q_sigma||^2
    is below 0.1 over the five largest levels (untrained: 1). The small levels converge
    slowest: there the denoising target's noise swamps its signal."""
    model = toy_ncsn()
    config = train.TrainConfig(steps=2000, batch_size=256, lr=3e-3, eval_every=10**9)
    train.Trainer(model, TOY, config, progress=False).fit()
    rng = np.random.default_rng(1)
    for sigma in model.sigmas[:5]:
        x = TOY.test[:1000] + sigma * rng.standard_normal((1000, 2))
        exact = noised_score(x, sigma)
        error = np.sum((model.score(x.astype(np.float32), sigma) - exact) ** 2, axis=1)
        assert error.mean() / np.sum(exact**2, axis=1).mean() < 0.1, sigma


def test_annealed_langevin_with_the_exact_score_samples_the_data():
    """The model's sampler (its levels, start and final denoising step) given the closed-form
    noised score: the samples' mean log-density is the data's (-1.70) within 0.15, where the
    start N(0, sigma_1^2 I) scores below -10."""
    model = toy_ncsn()
    model.initialize(TOY.train, np.random.default_rng(0))
    model.score = noised_score
    rng = np.random.default_rng(2)
    x, trajectory = model.sample(2000, rng, steps_per_level=100, eps=1e-3, return_trajectory=True)
    assert TOY.log_density(trajectory[0]).mean() < -10
    assert TOY.log_density(x).mean() == pytest.approx(TOY.log_density(TOY.test).mean(), abs=0.15)
    assert len(trajectory) == 10 * 100 + 2  # the start, every step and the denoised state


def test_the_image_model_trains_and_samples_the_datas_levels():
    digits = data.load("digits")
    model = models.create("ncsn", digits.info, channels=8, multipliers=[1, 2], groups=4)
    config = train.TrainConfig(steps=2, batch_size=8, eval_every=10**9, ema=0.9)
    metrics = train.Trainer(model, digits, config, progress=False).fit()
    assert math.isfinite(metrics["test_loss"])
    rng = np.random.default_rng(0)
    denoised = model.sample(3, np.random.default_rng(0), steps_per_level=2)
    raw = model.sample(3, np.random.default_rng(0), steps_per_level=2, denoise=False)
    for x in (denoised, raw):
        assert x.shape == (3, 1, 8, 8) and set(np.unique(x)) <= set(range(17))
    assert not np.array_equal(denoised, raw)
    assert model.sample(2, rng, steps_per_level=1).dtype == np.int64
