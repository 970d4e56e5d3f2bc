"""The model contract, the registry, and the training loop: exact resume, atomic checkpoints,
the NaN guard."""

import json

import numpy as np
import pytest

import autodiff as ad
from scratchgen import data, models, train
from scratchgen.models import GenerativeModel
from scratchgen.nn import Parameter
from scratchgen.settings import SettingError
from scratchgen.train import checkpoint


def mixture(seed=0, components=4):
    return models.create("gaussian_mixture", data.DataInfo((2,), "continuous"),
                         components=components, seed=seed)  # fmt: skip


def test_gaussian_mixture_density_integrates_to_one_and_samples_follow_it():
    model = mixture()
    model.initialize(data.load("eight_gaussians").train, np.random.default_rng(0))
    grid = np.linspace(-6, 6, 601)
    xx, yy = np.meshgrid(grid, grid)
    with ad.no_grad():
        log_density = model.log_prob(np.stack([xx.ravel(), yy.ravel()], 1)).data.astype(float)
    density = np.exp(log_density)
    assert density.sum() * (grid[1] - grid[0]) ** 2 == pytest.approx(1.0, abs=1e-3)
    samples = model.sample(100_000, np.random.default_rng(1))
    assert samples.shape == (100_000, 2) and samples.dtype == np.float32
    with ad.no_grad():  # E_model[log p] estimated two ways: 6-SE agreement
        logp = model.log_prob(samples).data
    mean_from_grid = np.sum(density * log_density) * (grid[1] - grid[0]) ** 2
    assert abs(logp.mean() - mean_from_grid) < 6 * logp.std() / np.sqrt(len(logp)) + 1e-3


def test_registry_errors():
    info = data.DataInfo((2,), "continuous")
    with pytest.raises(KeyError, match="unknown model 'nope'"):
        models.create("nope", info)
    with pytest.raises(SettingError, match="no setting colours; its settings are components"):
        models.create("gaussian_mixture", info, colours=3)
    with pytest.raises(models.UnsupportedData, match="handles continuous data, not binary"):
        models.create("gaussian_mixture", data.DataInfo((4,), "binary"))
    with pytest.raises(ValueError, match=r"expected examples of shape \(2,\)"):
        mixture().log_prob(np.zeros((3, 5)))


@pytest.mark.slow
def test_fitting_eight_gaussians_reaches_a_small_exact_kl_gap():
    """16 components can represent the 8 modes: the gap falls below 0.05 nats (at the end it is
    about 0.015, the test set's own standard error being about 0.01)."""
    dataset = data.load("eight_gaussians")
    metrics = train.fit(mixture(components=16), dataset, progress=False, steps=2000, lr=0.03,
                        batch_size=256, eval_every=10**9)  # fmt: skip
    entropy, _ = data.toy2d.entropy(dataset.log_density, data.toy2d.eight_gaussians)
    assert metrics["test_nll"] - entropy < 0.05


class NoisyGaussian(GenerativeModel):
    """A model whose loss draws noise from self.rng: resuming must restore that generator."""

    has_exact_likelihood = True

    def __init__(self, info, **hparams):
        super().__init__(info, **hparams)
        self.mu = Parameter(np.zeros(info.shape), dtype=np.float64)

    def log_prob(self, x):
        x = self.as_input(x)
        return -0.5 * ad.sum((x - self.mu) ** 2, axis=1)

    def loss(self, x):
        noise = self.rng.standard_normal(self.mu.shape)
        return -ad.mean(self.log_prob(x)) + ad.sum(self.mu * noise) * 0.1

    def sample(self, n, rng):
        return self.mu.data + rng.standard_normal((n,) + self.info.shape)


def noisy_setup(tmp_path, steps):
    dataset = data.from_array(np.random.default_rng(0).standard_normal((200, 3)), kind="continuous")
    config = train.TrainConfig(steps=steps, batch_size=16, lr=0.05, schedule="cosine", warmup=3,
                               ema=0.9, clip=1.0, checkpoint_every=5, eval_every=7,
                               log_every=3)  # fmt: skip
    model = NoisyGaussian(dataset.info)
    return train.Trainer(model, dataset, config, tmp_path, progress=False), model


def test_resume_continues_bit_for_bit(tmp_path):
    straight, straight_model = noisy_setup(tmp_path / "straight", 40)
    straight.fit()
    first, _ = noisy_setup(tmp_path / "resumed", 40)
    first.config.steps = 23
    first.fit()
    second, resumed_model = noisy_setup(tmp_path / "resumed", 40)
    second.load(tmp_path / "resumed")
    assert second.step == 23
    second.fit()
    np.testing.assert_array_equal(resumed_model.mu.data, straight_model.mu.data)
    np.testing.assert_array_equal(second.ema.shadow["mu"], straight.ema.shadow["mu"])
    lines = (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()
    assert all("step" in json.loads(line) for line in lines) and len(lines) > 5


def test_a_folder_written_by_fit_reads_back_as_a_run(tmp_path):
    """fit(out=...) writes the CLI's config.json for a registered model: load_run rebuilds it
    with its trained weights and settings."""
    moons = data.load("two_moons")
    model = mixture(components=3)
    train.fit(model, moons, out=tmp_path, progress=False, steps=5, eval_every=10**9)
    loaded, config = train.load_run(tmp_path)
    assert config["model"] == "gaussian_mixture" and loaded.hparams["components"] == 3
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_a_checkpoint_interrupted_mid_write_leaves_the_old_one_readable(tmp_path, monkeypatch):
    trainer, model = noisy_setup(tmp_path, 5)
    trainer.fit()
    before = checkpoint.load_arrays(tmp_path / "checkpoint.npz")

    def crash(file, **arrays):
        file.write(b"PK\x03\x04 half a zip file")
        raise KeyboardInterrupt  # the process is killed while writing

    monkeypatch.setattr(checkpoint.np, "savez", crash)
    model.mu.data = model.mu.data + 1.0
    with pytest.raises(KeyboardInterrupt):
        trainer.save()
    after = checkpoint.load_arrays(tmp_path / "checkpoint.npz")
    for key in before:
        np.testing.assert_array_equal(before[key], after[key])
    assert not list(tmp_path.glob(".*.tmp"))  # no half-written file left behind


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # the point of the test
def test_nan_guard_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    dataset = data.load("eight_gaussians")
    config = train.TrainConfig(steps=50, batch_size=64, lr=1e9, checkpoint_every=1)
    trainer = train.Trainer(mixture(), dataset, config, tmp_path, progress=False)
    with pytest.raises(train.TrainingDiverged, match="last good checkpoint.*smaller learning rate"):
        trainer.fit()
    saved = checkpoint.load_arrays(tmp_path / "checkpoint.npz")
    assert all(np.all(np.isfinite(v)) for k, v in saved.items() if k != "trainer/state")


def test_unreadable_checkpoints_are_one_line_errors(tmp_path):
    (tmp_path / "checkpoint.npz").write_bytes(b"not a zip")
    with pytest.raises(checkpoint.CheckpointError, match="not a .npy or .npz file"):
        checkpoint.load_arrays(tmp_path / "checkpoint.npz")
    with pytest.raises(TypeError, match="object array"):
        checkpoint.save_arrays(tmp_path / "x.npz", {"bad": np.array([{}], dtype=object)})


class _Drifting(GenerativeModel):
    """A one-parameter model whose diagnostic grows by one each step, past a limit of 3.5."""

    diagnostic_limits = {"drift": 3.5}

    def __init__(self, info, **hparams):
        super().__init__(info, **hparams)
        self.w = Parameter(np.zeros(1))
        self.calls = 0

    def loss(self, x, y=None):
        self.calls += 1
        return ad.sum(self.w * self.w)

    def diagnostics(self):
        return {"drift": float(self.calls)}


def test_the_trainer_logs_a_models_diagnostics_and_stops_when_one_passes_its_limit(tmp_path):
    model = _Drifting(data.DataInfo((2,), "continuous"))
    config = train.TrainConfig(steps=10, batch_size=64, log_every=1, eval_every=100)
    trainer = train.Trainer(model, data.load("eight_gaussians"), config, tmp_path, progress=False)
    with pytest.raises(train.TrainingDiverged, match="the drift reached 4 \\(its limit is 3.5\\)"):
        trainer.fit()
    assert [r["drift"] for r in trainer.history] == [1.0, 2.0, 3.0]


class _ModeRecording(_Drifting):
    """Records whether each loss was taken in training mode."""

    def loss(self, x, y=None):
        self.modes = [*getattr(self, "modes", []), self.training]
        return super().loss(x, y)


def test_evaluate_runs_in_eval_mode_and_restores_the_mode_it_found():
    model = _ModeRecording(data.DataInfo((2,), "continuous"))
    x = np.zeros((5, 2))
    for training in (True, False):
        model.train(training)
        model.modes = []
        train.evaluate(model, x, batch=2)
        assert model.modes == [False] * 3
        assert model.training is training
