"""The registered diffusion models: their networks learn the closed-form noise / score of the
noised eight Gaussians, the ODE model's density integrates to 1, the bounds sit where bounds
must, the backpropagated divergence is the finite differences', the average of the weights
samples no worse than the weights, and the image models sample the data's levels."""

import math

import numpy as np
import pytest

from scratchgen import data, diffusion, metrics, models, optim, train
from scratchgen.data import toy2d
from scratchgen.diffusion.targets import GaussianMixtureData

TOY = data.load("eight_gaussians")
CENTRES, STD = toy2d.MODES["eight_gaussians"]
TRUTH = GaussianMixtureData(np.asarray(CENTRES), STD)
FIT = {"steps": 1500, "batch_size": 256, "lr": 3e-3, "progress": False}


@pytest.fixture(scope="module")
def toy_ddpm():
    model = models.create("ddpm", TOY.info, timesteps=100, hidden=[64, 64, 64])
    train.fit(model, TOY, **FIT)
    return model


@pytest.fixture(scope="module")
def toy_sde():
    model = models.create("score_sde", TOY.info, sample_steps=200, hidden=[64, 64, 64])
    train.fit(model, TOY, **FIT)
    return model


def relative_error(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def test_ddpm_learns_the_noised_datas_eps(toy_ddpm):
    """At the noisier half of the steps the network's eps is within 25% (relative, over 2000
    points) of E[eps | x_t] in closed form; an untrained network is not."""
    rng = np.random.default_rng(0)
    schedule = toy_ddpm.schedule
    t = rng.integers(50, 100, size=2000)
    x_t = schedule.q_sample(TRUTH.sample(2000, rng), t, rng.standard_normal((2000, 2)))
    exact = TRUTH.schedule_eps(schedule)(x_t, t)
    assert relative_error(toy_ddpm.eps(x_t, t), exact) < 0.25
    fresh = models.create("ddpm", TOY.info, timesteps=100, hidden=[64, 64, 64])
    assert relative_error(fresh.eps(x_t, t), exact) > 0.5


def test_score_sde_learns_the_noised_datas_score(toy_sde):
    rng = np.random.default_rng(1)
    t = rng.uniform(0.3, 1.0, size=2000)
    x_t, _ = toy_sde.sde.marginal_sample(TRUTH.sample(2000, rng), t, rng)
    exact = TRUTH.sde_score(toy_sde.sde)(x_t, t)
    assert relative_error(toy_sde.score(x_t, t), exact) < 0.25


def test_the_ode_models_density_integrates_to_one(toy_sde):
    """exp(log p) summed over a 60 x 60 grid on [-4, 4]^2 (cell 0.133^2, the toy's mass all
    inside) is 1 within 3%: the grid's and the solver's error, not the training's, since the
    ODE's density is normalised whatever the network."""
    side = np.linspace(-4, 4, 60)
    grid = np.stack(np.meshgrid(side, side), -1).reshape(-1, 2)
    log_p = toy_sde.log_prob(grid).data
    assert np.exp(log_p).sum() * (side[1] - side[0]) ** 2 == pytest.approx(1.0, abs=0.03)


def test_backpropagated_divergence_is_the_finite_differences(toy_sde):
    """The model's own divergence (through the engine) and central differences on its score
    give the same log p, in float64."""
    model = models.create("score_sde", TOY.info, hidden=[16, 16], dtype="float64", seed=3)
    x = TOY.test[:5].astype(np.float64)
    ours = model.log_prob(x).data
    differences = diffusion.ode_log_likelihood(model.sde, model.score, x)
    np.testing.assert_allclose(ours, differences, atol=1e-5)


def test_the_bounds_sit_where_bounds_must(toy_ddpm):
    """The VLB of vectors is at least the data's entropy in expectation (1.70 nats for the
    eight Gaussians); on binary images -L_vlb bounds a probability: log P <= 0."""
    nll = -toy_ddpm.log_prob(TOY.test[:1000]).data
    entropy, _ = toy2d.entropy(toy2d.eight_gaussians_log_density, toy2d.eight_gaussians)
    assert nll.mean() > entropy - 4.5 * nll.std() / math.sqrt(len(nll))
    digits = data.load("digits_binary")
    model = models.create("ddpm", digits.info, timesteps=50, channels=8, multipliers=[1, 2],
                          groups=4)  # fmt: skip
    assert np.all(model.log_prob(digits.test[:4]).data <= 0)


def test_ema_samples_are_no_worse_than_the_weights():
    """After 600 steps, the warmed-up average (decay 0.9999, the papers') samples as well as
    the raw weights (MMD to held-out data within 50% of theirs, or below); an average
    without the warm-up is still near the initial weights and samples far worse."""
    model = models.create("ddpm", TOY.info, timesteps=100, hidden=[64, 64, 64])
    config = train.TrainConfig(steps=600, batch_size=256, lr=3e-3, eval_every=10**9)
    trainer = train.Trainer(model, TOY, config, progress=False)
    cold = optim.EMA(model, 0.9999, warmup=False)
    original = trainer.model.loss

    def loss_and_cold_average(*args):
        cold.update(model)  # one update per step, as the trainer's own average
        return original(*args)

    trainer.model.loss = loss_and_cold_average
    trainer.fit()
    held_out = TOY.test[:1000]

    def mmd_of_samples():
        return metrics.mmd(model.sample(1000, np.random.default_rng(5)), held_out)

    raw = mmd_of_samples()
    with trainer.ema.applied(model):
        averaged = mmd_of_samples()
    with cold.applied(model):
        unwarmed = mmd_of_samples()
    assert averaged < max(1.5 * raw, 2e-3), (averaged, raw)
    assert unwarmed > 5 * max(raw, averaged), (unwarmed, raw, averaged)


def test_training_evaluations_leave_the_costly_likelihood_to_eval():
    model = models.create("ddpm", TOY.info, timesteps=40)
    fitted = train.fit(model, TOY, steps=3, batch_size=16, progress=False)
    assert "test_loss" in fitted and "test_nll" not in fitted
    scored = train.evaluate(model, TOY.test[:50])
    assert np.isfinite(scored["test_nll"]) and "test_bpd" in scored


IMAGE_SAMPLERS = [("ddpm", ["ancestral", "ddim", "sigma_euler", "edm_heun", "dpm_solver_pp_2m"]),
                  ("score_sde", ["pc", "euler_maruyama", "ode", "heun"])]  # fmt: skip


@pytest.mark.parametrize("name,samplers", IMAGE_SAMPLERS)
def test_image_models_sample_the_datas_levels_by_every_sampler(name, samplers):
    digits = data.load("digits")
    steps = {"ddpm": {"timesteps": 40}, "score_sde": {"sample_steps": 10}}[name]
    model = models.create(name, digits.info, channels=8, multipliers=[1, 2], groups=4, **steps)
    train.fit(model, digits, steps=2, batch_size=8, progress=False)
    for sampler in samplers:
        x = model.sample(3, np.random.default_rng(0), sampler=sampler)
        assert x.shape == (3, 1, 8, 8) and x.dtype == np.int64
        assert x.min() >= 0 and x.max() <= digits.info.levels - 1
    x, path = model.sample(2, np.random.default_rng(0), return_trajectory=True)
    assert path.shape[1:] == (2, 1, 8, 8)
    if name == "ddpm":  # the ODE solvers' states come back in the model's space, x_T first
        x, path = model.sample(2, np.random.default_rng(0), "dpm_solver_pp_2m", steps=5,
                               return_trajectory=True)  # fmt: skip
        assert path.shape == (6, 2, 1, 8, 8) and abs(path[0].std() - 1) < 0.5
    with pytest.raises(ValueError, match="sampler must be one of"):
        model.sample(2, np.random.default_rng(0), sampler="dpm_solver")


def test_settings_are_checked_before_anything_is_built():
    with pytest.raises(ValueError, match="sde"):
        models.create("score_sde", TOY.info, sde="vpp")
    with pytest.raises(ValueError, match="parametrization"):
        models.create("ddpm", TOY.info, parametrization="score")


@pytest.mark.parametrize("parametrization", ["eps", "x0", "v"])
def test_ddpms_eps_vjp_is_the_finite_differences(parametrization):
    """What DPS differentiates: v^T d eps / dx through the network, for every parametrisation
    (the conversion to eps mixes in x_t for x0 and v)."""
    model = models.create("ddpm", TOY.info, timesteps=50, hidden=[16, 16], dtype="float64",
                          parametrization=parametrization)  # fmt: skip
    for p in model.parameters():  # away from the initialisation, so that the map is not flat
        p.data = 0.5 * np.random.default_rng(1).standard_normal(p.shape)
    rng = np.random.default_rng(0)
    x, v, t = rng.standard_normal((3, 2)), rng.standard_normal((3, 2)), np.array([0, 20, 49])
    h = 1e-6
    numeric = np.stack([(v * (model.eps(x + h * e, t) - model.eps(x - h * e, t))).sum(1) / (2 * h)
                        for e in np.eye(2)], axis=1)  # fmt: skip
    np.testing.assert_allclose(model.eps_vjp(x, t, v), numeric, rtol=1e-5, atol=1e-8)


def test_ddpm_completes_given_values_under_a_mask_as_the_autoregressive_models_do():
    """sample(n, rng, given=, mask=) keeps the observed levels exactly; without a mask, or with
    labels beside it, it is refused in one line."""
    digits = data.load("digits")
    model = models.create("ddpm", digits.info, timesteps=100, channels=8, multipliers=[1])
    mask = np.zeros(digits.info.shape, bool)
    mask[:, :, :3] = True
    done = model.sample(4, np.random.default_rng(0), given=digits.test[:4], mask=mask)
    assert done.shape == (4, *digits.info.shape)
    np.testing.assert_array_equal(done[:, :, :, :3], digits.test[:4, :, :, :3])
    with pytest.raises(ValueError, match="needs a mask"):
        model.sample(4, np.random.default_rng(0), given=digits.test[:4])
    with pytest.raises(ValueError, match="takes no labels, guidance or trajectory"):
        model.sample(4, np.random.default_rng(0), given=digits.test[:4], mask=mask, guidance=1.0)
