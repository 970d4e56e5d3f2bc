"""The energy-based model: its replay buffer keeps its size and its fresh-start rate exactly,
its Langevin step samples the tempered target its docstring names, its log Z (a grid in 2-D,
AIS beyond) matches a closed form, each of its five objectives learns a 2-D density, and a
run that diverges stops naming the diagnostic that blew up."""

import json
import math

import numpy as np
import pytest

import autodiff as ad
from scratchgen import data, models, train
from scratchgen.data import DataInfo
from scratchgen.models.energy.replay import ReplayBuffer

TOY = data.load("eight_gaussians")
GAUSSIAN_FIT = -3.55  # the best a Gaussian does on eight_gaussians: -log(2 pi e 2.04)
UNTRAINED = -5.1  # what the untrained networks below score, about


def quadratic(scale, centre=0.0):
    """E(x) = ||x - centre||^2 / (2 scale^2): N(centre, scale^2 I), log Z = D/2 log 2 pi s^2."""

    def energy(x):
        x = x if isinstance(x, ad.Tensor) else ad.Tensor(np.asarray(x))
        u = (x - centre) * (1 / scale)
        return 0.5 * ad.sum(u * u, axis=tuple(range(1, x.ndim)))

    return energy


def ebm(info=TOY.info, **settings):
    return models.create("ebm", info, hidden=[32, 32], **settings)


# ---------------------------------------------------------------------- the replay buffer
def marking_fresh():
    """Fresh draws of zeros the first time (the buffer's fill) and of ones after."""
    calls = []

    def fresh(n, rng):
        calls.append(n)
        return np.full((n, 2), 0.0 if len(calls) == 1 else 1.0)

    return fresh


@pytest.mark.parametrize("n, reinit", [(10, 0.05), (64, 0.05), (100, 0.3), (7, 1.0), (50, 0.0)])
def test_the_buffer_keeps_its_size_and_restarts_exactly_its_share(n, reinit):
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(200, (2,), reinit, marking_fresh(), rng, np.float64)
    for _ in range(5):
        index, x0 = buffer.starts(n, rng)
        assert len(set(index.tolist())) == n
        assert int(np.sum(x0[:, 0] == 1.0)) == round(reinit * n)
        buffer.store(index, x0 + 10.0)
        np.testing.assert_array_equal(buffer.chains[index], x0 + 10.0)
        assert len(buffer) == 200 and buffer.chains.shape == (200, 2)


def test_buffer_mistakes_are_one_line():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="reinit must lie in"):
        ReplayBuffer(10, (2,), 1.5, marking_fresh(), rng, np.float64)
    buffer = ReplayBuffer(10, (2,), 0.1, marking_fresh(), rng, np.float64)
    with pytest.raises(ValueError, match="exceeds the buffer's 10"):
        buffer.starts(11, rng)
    with pytest.raises(ValueError, match="from a buffer of"):
        ebm(buffer_size=8).sample(9, rng, from_buffer=True)


# ---------------------------------------------------------------------- energy, score, chains
def test_the_score_is_minus_the_energys_gradient():
    model = ebm(dtype="float64")
    x = np.random.default_rng(1).normal(size=(5, 2))
    h, eye = 1e-6, np.eye(2)
    numeric = np.stack([-(model.energy(x + h * e).data - model.energy(x - h * e).data) / (2 * h)
                        for e in eye], axis=1)  # fmt: skip
    np.testing.assert_allclose(model.score(x), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("step_size, variance", [(None, 1 / (1 - 0.005 / 2)),
                                                 (0.01, 0.01 / (0.02 - 0.01**2))])  # fmt: skip
def test_the_decoupled_langevin_step_samples_the_tempered_target(step_size, variance):
    """On E = ||x||^2 / 2 the step x <- x - lambda x + sigma z has the stationary variance
    sigma^2 / (2 lambda - lambda^2): 1 (the target, up to discretisation) when lambda is
    sigma^2 / 2, and T = sigma^2 / (2 lambda) = 1/2 at lambda = 0.01, sigma = 0.1. Over 8000
    chains the variance's standard error is 1.1%."""
    model = ebm(step_size=step_size, noise=0.1, grad_clamp=0, dtype="float64")
    model.energy = quadratic(1.0)
    rng = np.random.default_rng(2)
    x = model.langevin(rng.uniform(-3, 3, size=(8000, 2)), 700, rng)
    assert np.var(x) == pytest.approx(variance, rel=0.06)
    assert np.abs(np.mean(x)) < 0.05


def test_the_gradient_clamp_and_the_image_box_hold():
    """With grad_clamp c each coordinate moves by at most lambda c + its noise; on images the
    chains stay in [-sample_clamp, sample_clamp]."""
    model = ebm(step_size=1.0, noise=1e-9, grad_clamp=0.03, dtype="float64")
    model.energy = quadratic(0.01)
    x0 = np.full((4, 2), 2.0)
    x = model.langevin(x0, 1, np.random.default_rng(0))
    np.testing.assert_allclose(x, x0 - 0.03, atol=1e-6)
    digits = DataInfo((1, 4, 4), "categorical", 17)
    image = models.create("ebm", digits, filters=4, sample_clamp=1.0, step_size=100.0)
    chains = image.langevin(np.zeros((3, 1, 4, 4), np.float32), 5, np.random.default_rng(0))
    assert np.all(np.abs(chains) <= 1.0)


# ---------------------------------------------------------------------- the normaliser
def test_the_grid_log_normaliser_matches_a_gaussians():
    model = ebm(dtype="float64")
    rng = np.random.default_rng(3)
    model.initialize(rng.normal(0.5, 0.4, size=(500, 2)), rng)
    model.energy = quadratic(0.4, centre=0.5)
    assert model.log_normalizer() == pytest.approx(math.log(2 * math.pi * 0.4**2), abs=1e-3)
    assert model.log_prob_is_estimate


def test_ais_estimates_a_three_dimensional_log_normaliser():
    """log Z of N(0.5, 0.3^2 I) in 3-D by AIS from the box's Gaussian: 64 chains, 500 steps."""
    info = DataInfo((3,), "continuous")
    model = models.create("ebm", info, hidden=[8], dtype="float64")
    rng = np.random.default_rng(4)
    model.initialize(rng.normal(0.5, 0.3, size=(500, 3)), rng)
    model.energy = quadratic(0.3, centre=0.5)
    exact = 1.5 * math.log(2 * math.pi * 0.3**2)
    assert model.log_normalizer(rng) == pytest.approx(exact, abs=0.05)
    x = rng.normal(0.5, 0.3, size=(4, 3))
    expected = -quadratic(0.3, 0.5)(x).data - exact
    np.testing.assert_allclose(model.log_prob(x, log_z=exact).data, expected)


# ---------------------------------------------------------------------- training
OBJECTIVES = {
    "cd": dict(step_size=None, grad_clamp=0, noise=0.1, langevin_steps=20, buffer_size=1000),
    "exact": {},
    "sliced": {},
    "denoising": {},
    "nce": {},
}


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_each_objective_learns_the_eight_gaussians(objective):
    """600 steps take the grid-normalised test log-likelihood from about -5.1 (untrained) past
    -2.7, above the best Gaussian's -3.55 (the density is -1.70)."""
    model = ebm(objective=objective, **OBJECTIVES[objective])
    config = train.TrainConfig(steps=600, batch_size=128, lr=3e-3, eval_every=10**9)
    train.Trainer(model, TOY, config, progress=False).fit()
    assert model.log_prob(TOY.test[:2000]).data.mean() > -2.7


def test_contrastive_divergence_reports_its_diagnostics(tmp_path):
    model = ebm(**OBJECTIVES["cd"])
    config = train.TrainConfig(steps=3, batch_size=64, eval_every=10**9, log_every=1)
    train.Trainer(model, TOY, config, tmp_path, progress=False).fit()
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    records = [r for r in map(json.loads, lines) if "energy_gap" in r]
    assert len(records) == 3
    for r in records:
        assert r["energy_gap"] == pytest.approx(r["energy_data"] - r["energy_samples"])
        assert r["grad_norm"] > 0


def test_a_diverging_energy_stops_training_naming_it():
    model = ebm(energy_limit=1e-9, **OBJECTIVES["cd"])
    trainer = train.Trainer(model, TOY, train.TrainConfig(steps=3, eval_every=10**9),
                            progress=False)  # fmt: skip
    with pytest.raises(train.TrainingDiverged, match=r"the energy data reached .* \(its limit"):
        trainer.fit()


def run(folder, steps):
    model = ebm(seed=5, **OBJECTIVES["cd"])
    config = train.TrainConfig(steps=steps, batch_size=32, seed=5, eval_every=10**9,
                               checkpoint_every=3)  # fmt: skip
    return train.Trainer(model, TOY, config, folder, progress=False), model


def test_a_resumed_run_continues_from_the_same_chains_bit_for_bit(tmp_path):
    straight, straight_model = run(tmp_path / "straight", 7)
    straight.fit()
    first, _ = run(tmp_path / "resumed", 4)
    first.fit()
    second, resumed = run(tmp_path / "resumed", 7)
    second.load(tmp_path / "resumed")
    second.fit()
    states = straight_model.state_dict(), resumed.state_dict()
    assert any("chains" in name for name in states[0])
    for name, value in states[0].items():
        np.testing.assert_array_equal(value, states[1][name], err_msg=name)


def test_the_image_model_trains_and_samples_the_datas_levels():
    digits = data.load("digits")
    model = models.create("ebm", digits.info, filters=4, buffer_size=64, langevin_steps=3)
    config = train.TrainConfig(steps=2, batch_size=16, eval_every=10**9)
    train.Trainer(model, digits, config, progress=False).fit()
    rng = np.random.default_rng(0)
    for x in (model.sample(5, rng, steps=3), model.sample(5, rng, from_buffer=True)):
        assert x.shape == (5, 1, 8, 8)
        assert set(np.unique(x)) <= set(range(17))


def test_a_test_loss_leaves_the_chains_alone():
    model = ebm(**OBJECTIVES["cd"])
    before = model.replay.chains.copy()
    metrics = train.evaluate(model, TOY.test)
    np.testing.assert_array_equal(model.replay.chains, before)
    assert math.isfinite(metrics["test_loss"])
