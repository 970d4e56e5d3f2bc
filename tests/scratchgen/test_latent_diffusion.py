"""Latent diffusion: a DDPM on a frozen VAE's codes. Its settings are the DDPM's and its own,
checked alike; the codes are scaled to unit variance and decode to the VAE's reconstructions;
the VAE is neither trained nor saved; the code prior's density carries the Jacobian of the
scaling; and the CLI trains, samples and refuses what it cannot use in one line."""

import math

import numpy as np
import pytest

import autodiff as ad
from scratchgen import data, models, train
from scratchgen.cli import main
from scratchgen.models.diffusion import latent as ld
from scratchgen.settings import SettingError
from tests.scratchgen.test_cli import one_line_refusal

SMALL_PRIOR = {"hidden": [8], "timesteps": 40, "noise_schedule": "cosine"}


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("latent") / "vae"
    assert main(["train", "vae", "--data", "digits", "--out", str(folder), "--steps", "30",
                 "--quiet", "--set", "arch=conv", "latent=4", "filters=4"]) == 0  # fmt: skip
    return folder


def build(vae_run, **settings):
    digits = data.load("digits")
    return models.create("latent_diffusion", digits.info, autoencoder=str(vae_run),
                         **SMALL_PRIOR, **settings), digits  # fmt: skip


def test_the_ddpm_settings_are_declared_once_and_checked():
    settings = models.model_settings(ld.LatentDiffusion)
    assert {"autoencoder", "code", "timesteps", "noise_schedule", "hidden", "sampler"} <= set(
        settings
    )
    with pytest.raises(SettingError, match="latent_diffusion setting timesteps"):
        models.check_settings("latent_diffusion", {"timesteps": 0})


@pytest.mark.parametrize("code", ["mean", "sample"])
def test_codes_have_unit_variance_and_decode_to_the_reconstructions(vae_run, code):
    model, digits = build(vae_run, code=code)
    model.initialize(digits.train, np.random.default_rng(0))
    codes = model.encode(digits.train, np.random.default_rng(1))
    assert codes.shape == (len(digits.train), 4)
    # the same codes as initialize's for the means; other draws from q for samples
    assert abs(codes.std() - 1) < (1e-9 if code == "mean" else 0.05)
    if code == "mean":  # then decode(encode(x)) is the VAE's reconstruction, exactly
        x = digits.test[:16]
        np.testing.assert_allclose(model.decode(model.encode(x)),
                                   model.autoencoder.reconstruct(x), rtol=1e-6)  # fmt: skip


def test_the_vae_is_neither_trained_nor_saved(vae_run):
    model, digits = build(vae_run)
    vae_weights = {id(p) for p in model.autoencoder.parameters()}
    assert not vae_weights & {id(p) for p in model.parameters()}
    assert all(not key.startswith("autoencoder") for key in model.state_dict())
    before = [p.data.copy() for p in model.autoencoder.parameters()]
    train.fit(model, digits, progress=False, steps=3, batch_size=16, eval_every=10**9)
    for old, p in zip(before, model.autoencoder.parameters()):
        np.testing.assert_array_equal(old, p.data)


def test_the_code_prior_carries_the_jacobian_of_the_scaling():
    """With a prior of known density p~ = N(0, I) on z / s, log p(z) = log N(z; 0, s^2 I)."""

    class StandardNormal:
        def log_prob(self, codes, y):
            return ad.Tensor(
                -0.5 * (codes**2).sum(-1) - codes.shape[-1] / 2 * math.log(2 * math.pi)
            )

    z = np.random.default_rng(0).standard_normal((3, 5, 4))
    s = 2.5
    got = ld._CodePrior(StandardNormal(), s, None).log_prob(ad.Tensor(z)).data
    exact = -0.5 * (z**2).sum(-1) / s**2 - 4 / 2 * math.log(2 * math.pi * s**2)
    np.testing.assert_allclose(got, exact, rtol=1e-12)


def test_samples_and_the_bound(vae_run):
    model, digits = build(vae_run)
    train.fit(model, digits, progress=False, steps=5, batch_size=16, eval_every=10**9)
    samples = model.sample(6, np.random.default_rng(0), "ddim", steps=5)
    assert samples.shape == (6, *digits.info.shape) and np.isfinite(samples).all()
    bound = model.log_prob(digits.test[:4]).data
    assert bound.shape == (4,) and np.isfinite(bound).all()


def test_a_class_conditional_prior_takes_labels(vae_run):
    model, digits = build(vae_run, num_classes=10)
    train.fit(model, digits, progress=False, steps=3, batch_size=16, eval_every=10**9)
    samples = model.sample(4, np.random.default_rng(0), "ddim", steps=5, y=3, guidance=1.0)
    assert samples.shape == (4, *digits.info.shape)
    assert np.isfinite(model.log_prob(digits.test[:3], np.full(3, 7)).data).all()


def test_the_cli_trains_samples_and_refuses_other_autoencoders(vae_run, tmp_path, capsys):
    run = tmp_path / "ld"
    small = [
        "--steps",
        "3",
        "--quiet",
        "--set",
        "hidden=[8]",
        "timesteps=40",
        "noise_schedule=cosine",
    ]
    assert main(["train", "latent_diffusion", "--data", "digits", "--out", str(run), *small,
                 f"autoencoder={vae_run}"]) == 0  # fmt: skip
    assert main(["sample", str(run), "--n", "3", "--out", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (3, 1, 8, 8)
    ddpm = tmp_path / "ddpm"
    assert main(["train", "ddpm", "--data", "digits", "--out", str(ddpm), *small]) == 0
    for folder, message in ((ddpm, "is a ddpm"), (tmp_path / "none", "none"), ("", "give")):
        args = ["train", "latent_diffusion", "--data", "digits", "--out", str(tmp_path / "x")]
        err = one_line_refusal([*args, *small, f"autoencoder={folder}"], capsys)
        assert message in err
