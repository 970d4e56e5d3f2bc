"""The command line, end to end, in a temporary folder."""

import json
import subprocess
import sys

import numpy as np
import pytest

from scratchgen import cli
from scratchgen.cli import main


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "scratchgen", *args], capture_output=True, text=True
    )


def test_train_sample_eval_and_resume(tmp_path, capsys):
    out = tmp_path / "run"
    settings = ["--set", "components=8", "lr=0.03", "--quiet"]
    assert main(["train", "gaussian_mixture", "--data", "eight_gaussians", "--steps", "60",
                 "--out", str(out), *settings]) == 0  # fmt: skip
    for name in ("checkpoint.npz", "config.json", "metrics.json", "samples.png", "samples.npy"):
        assert (out / name).exists()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 60 and {"test_nll", "test_bpd", "kl_gap", "seconds"} <= set(metrics)
    assert np.load(out / "samples.npy").shape == (64, 2)

    assert main(["train", "gaussian_mixture", "--data", "eight_gaussians", "--steps", "90",
                 "--out", str(out), "--resume", "--quiet"]) == 0  # fmt: skip
    assert json.loads((out / "metrics.json").read_text())["steps"] == 90
    assert main(["train", "gaussian_mixture", "--data", "eight_gaussians", "--out", str(out),
                 "--resume", "--set", "lr=0.5"]) == 2  # fmt: skip

    assert main(["sample", str(out), "--n", "7", "--out", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (7, 2)
    assert main(["sample", str(out), "--out", str(tmp_path / "s.png")]) == 0
    assert main(["eval", str(out), "--data", "two_moons", "--samples", "300"]) == 0
    scores = json.loads((out / "eval-two_moons.json").read_text())
    assert {"kl_gap", "mmd_rbf", "w2", "nn_distance_samples", "eval_samples"} <= set(scores)
    assert "modes_captured" not in scores  # the moons have no modes to count
    assert "test_nll" in capsys.readouterr().out
    assert main(["eval", str(out), "--metrics", "modes", "w2", "--samples", "300"]) == 0
    scores = json.loads((out / "metrics.json").read_text())
    assert scores["modes_total"] == 8 and 0 <= scores["modes_captured"] <= 8
    assert scores["steps"] == 90  # the training figures stay beside the new ones


def test_eval_scores_images_with_the_feature_network_it_names(tmp_path, feature_network_cache):
    out = tmp_path / "vae"
    assert main(["train", "vae", "--data", "digits", "--steps", "30", "--out", str(out),
                 "--quiet", "--set", "hidden=[32]", "latent=4"]) == 0  # fmt: skip
    assert main(["eval", str(out), "--metrics", "fid", "kid", "pr", "dc", "nn", "--samples",
                 "300", "--seed", "3"]) == 0  # fmt: skip
    scores = json.loads((out / "metrics.json").read_text())
    expected = {"fid_scratchgen_digits", "kid_scratchgen_digits_mean", "kid_scratchgen_digits_std",
                "precision_scratchgen_digits", "recall_scratchgen_digits",
                "density_scratchgen_digits", "coverage_scratchgen_digits",
                "scratchgen_digits_test_accuracy", "nn_distance_samples",
                "nn_distance_test"}  # fmt: skip
    assert expected <= set(scores) and scores["fid_scratchgen_digits"] > 0
    assert scores["test_elbo"] < 0  # from training, kept
    assert (out / "nearest.png").exists() and list(feature_network_cache.glob("digits-*.npz"))


def test_a_gan_trains_resumes_and_is_scored_by_its_samples(tmp_path, capsys):
    out = tmp_path / "gan"
    assert main(["train", "gan", "--data", "grid25", "--steps", "6", "--out", str(out), "--quiet",
                 "--set", "loss=wgan_gp", "hidden=[16]", "lr_g=3e-4"]) == 0  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"test_loss_discriminator", "test_loss_generator"} <= set(metrics)
    assert np.load(out / "samples.npy").shape == (64, 2)
    assert main(["train", "gan", "--data", "grid25", "--steps", "8", "--out", str(out),
                 "--resume", "--quiet"]) == 0  # fmt: skip
    assert main(["eval", str(out), "--metrics", "modes", "mmd", "--samples", "300"]) == 0
    assert json.loads((out / "metrics.json").read_text())["modes_total"] == 25
    capsys.readouterr()
    result = run_cli("eval", str(out), "--metrics", "nll")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "GAN has no likelihood to score" in result.stderr


def test_a_translation_model_writes_its_translations_and_refuses_sample_metrics(tmp_path):
    rows = np.random.default_rng(0).integers(0, 256, (40, 6, 8, 8))
    np.save(tmp_path / "pairs.npy", rows)
    out = tmp_path / "cycle"
    assert main(["train", "cyclegan", "--data", str(tmp_path / "pairs.npy"), "--steps", "2",
                 "--out", str(out), "--quiet", "--set", "filters=4", "blocks=1",
                 "batch_size=8"]) == 0  # fmt: skip
    assert (out / "samples.png").stat().st_size > 1000
    assert np.load(out / "samples.npy").shape[1:] == (6, 8, 8)
    assert main(["sample", str(out), "--n", "5", "--out", str(tmp_path / "t.npy")]) == 0
    # translations of the run's test images, of which the 40 rows' split holds 4
    assert np.load(tmp_path / "t.npy").shape == (4, 6, 8, 8)
    result = run_cli("eval", str(out), "--metrics", "nn")
    assert result.returncode == 2 and "translates images rather than drawing them" in result.stderr


@pytest.mark.parametrize(
    "metrics, message",
    [
        (["fid"], "fid: fid needs a feature network for the data, and there is none for "
                  "eight_gaussians"),
        (["w2", "bogus"], "there is no metric 'bogus'"),
    ],
)  # fmt: skip
def test_eval_refuses_a_metric_that_does_not_apply_in_one_line(metrics, message, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "gaussian_mixture", "--data", "eight_gaussians", "--steps", "5",
                 "--out", str(out), "--quiet"]) == 0  # fmt: skip
    result = run_cli("eval", str(out), "--metrics", *metrics)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert message in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["no-such-command"], "invalid choice"),
        ([], "required"),
        (
            ["train", "gaussian_mixture", "--data", "digits"],
            "handles continuous data, not categorical",
        ),
        (["train", "nope", "--data", "rings"], "unknown model 'nope'"),
        (["train", "gaussian_mixture", "--data", "nowhere"], "unknown dataset 'nowhere'"),
        (["train", "gaussian_mixture", "--data", "rings", "--set", "oops"], "expects KEY=VALUE"),
        (
            ["train", "gaussian_mixture", "--data", "rings", "--set", "colours=3"],
            "no setting colours",
        ),
        (["sample", "/no/such/run", "--out", "x.png"], "no such file"),
        (["list", "nope"], "unknown model 'nope'"),
        (
            ["train", "gaussian_mixture", "--data", "rings", "--set", "optimizer=foo"],
            "optimizer must be one of 'adam', 'adamw', 'sgd', got 'foo'",
        ),
        (
            ["train", "gaussian_mixture", "--data", "rings", "--set", "steps=abc"],
            "steps must be an integer",
        ),
        (
            ["train", "gaussian_mixture", "--data", "rings", "--set", "batch_size=100000"],
            "exceeds the 10000 training examples",
        ),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(args, message, tmp_path):
    result = subprocess.run([sys.executable, "-m", "scratchgen", *args], capture_output=True,
                            text=True, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def one_line_refusal(args, capsys, code=2) -> str:
    assert main(args) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    "settings, message",
    [
        (["--set", "hidden=abc"], "vae setting hidden must be a non-empty list of integers from 1"),
        (["--set", "batch_size=0"], "training setting batch_size must be an integer from 1"),
        (["--steps", "0"], "training setting steps must be an integer from 1"),
        (["--set", "latent=NaN"], "vae setting latent must be an integer from 1 to 4096, got nan"),
        (["--steps", "5", "--set", "steps=6"], "give steps once"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_made(settings, message, tmp_path, capsys):
    out = tmp_path / "run"
    err = one_line_refusal(["train", "vae", "--data", "digits_binary", "--out", str(out),
                            *settings], capsys)  # fmt: skip
    assert message in err and not out.exists()


def test_unreadable_files_say_what_is_wrong(tmp_path, capsys):
    np.save(tmp_path / "one.npy", np.zeros(5))
    err = one_line_refusal(["train", "vae", "--data", str(tmp_path / "one.npy")], capsys)
    assert "expected an array of shape (n, ...)" in err and "got shape (5,)" in err

    out = tmp_path / "run"
    assert main(["train", "gaussian_mixture", "--data", "eight_gaussians", "--steps", "3",
                 "--out", str(out), "--quiet"]) == 0  # fmt: skip
    capsys.readouterr()
    err = one_line_refusal(["train", "gaussian_mixture", "--data", "eight_gaussians", "--steps",
                            "3", "--out", str(out), "--resume"], capsys)  # fmt: skip
    assert "already at step 3; give --steps above it" in err

    sample = ["sample", str(out), "--out", str(tmp_path / "s.npy")]
    good = dict(np.load(out / "checkpoint.npz"))
    np.savez(out / "checkpoint.npz", **{k: v for k, v in good.items() if k != "model/means"})
    err = one_line_refusal(sample, capsys)
    assert "does not fit the gaussian_mixture model" in err and "missing ['means']" in err
    np.savez(out / "checkpoint.npz", **{**good, "model/means": np.zeros((3, 3))})
    err = one_line_refusal(sample, capsys)
    assert "means has shape (3, 3) in the state" in err
    (out / "checkpoint.npz").write_text("garbage\n")
    err = one_line_refusal(sample, capsys)
    assert "not a .npy or .npz file" in err and "allow_pickle" not in err
    np.save(out / "checkpoint.npz.npy", np.array([{}], dtype=object), allow_pickle=True)
    (out / "checkpoint.npz.npy").rename(out / "checkpoint.npz")
    err = one_line_refusal(sample, capsys)
    assert "holds Python objects" in err and "allow_pickle" not in err


def test_divergence_exits_1_with_its_reason(tmp_path):
    result = run_cli("train", "gaussian_mixture", "--data", "eight_gaussians", "--steps", "50",
                     "--out", str(tmp_path / "r"), "--set", "lr=1e9", "--quiet")  # fmt: skip
    assert result.returncode == 1
    assert "training stopped" in result.stderr and "Traceback" not in result.stderr
    assert "no checkpoint had been written yet" in result.stderr
    assert result.stderr.count("\n") == 1


def test_bad_folders_and_sample_arguments_are_one_line(tmp_path, capsys):
    (tmp_path / "a_file").write_text("x")
    train = ["train", "gaussian_mixture", "--data", "eight_gaussians", "--steps", "2", "--quiet"]
    err = one_line_refusal([*train, "--out", str(tmp_path / "a_file")], capsys)
    assert "is a file, not a run folder" in err
    err = one_line_refusal([*train, "--out", str(tmp_path / "a_file" / "run")], capsys, code=1)
    assert "could not make the run folder" in err
    err = one_line_refusal([*train, "--out", str(tmp_path / "none"), "--resume"], capsys)
    assert "no run in" in err and not (tmp_path / "none").exists()
    out = tmp_path / "run"
    assert main([*train, "--out", str(out)]) == 0
    capsys.readouterr()
    for flags, message in [(["--n", "0"], "--n must be from 1 to 100000"),
                           (["--n", "1000000000"], "--n must be from 1 to 100000"),
                           (["--seed", "-1"], "--seed must be 0 or more")]:  # fmt: skip
        err = one_line_refusal(["sample", str(out), *flags, "--out", str(tmp_path / "s.npy")],
                               capsys)  # fmt: skip
        assert message in err
    for flags, message in [(["--label", "1"], "is not class-conditional: it takes no label"),
                           (["--guidance", "1"], "takes no guidance"),
                           (["--guidance", "-1"], "--guidance must be 0 or more")]:  # fmt: skip
        err = one_line_refusal(["sample", str(out), *flags, "--out", str(tmp_path / "s.npy")],
                               capsys)  # fmt: skip
        assert message in err


def test_a_class_conditional_diffusion_model_samples_a_label_with_guidance(tmp_path, capsys):
    out = tmp_path / "run"
    settings = ["num_classes=10", "channels=8", "multipliers=[1]", "timesteps=100"]
    assert main(["train", "ddpm", "--data", "digits", "--steps", "2", "--out", str(out),
                 "--quiet", "--set", *settings]) == 0  # fmt: skip
    target = tmp_path / "s.npy"
    assert main(["sample", str(out), "--n", "3", "--label", "7", "--guidance", "2",
                 "--out", str(target)]) == 0  # fmt: skip
    assert np.load(target).shape == (3, 1, 8, 8)
    capsys.readouterr()
    err = one_line_refusal(["sample", str(out), "--label", "10", "--out", str(target)], capsys)
    assert "labels run from 0 to 9, got 10" in err
    plain = tmp_path / "plain"
    assert main(["train", "ddpm", "--data", "digits", "--steps", "2", "--out", str(plain),
                 "--quiet", "--set", *settings[1:]]) == 0  # fmt: skip
    capsys.readouterr()
    err = one_line_refusal(["sample", str(plain), "--guidance", "1", "--out", str(target)], capsys)
    assert "trained without labels (num_classes=0)" in err


def test_a_captioned_ddpm_trains_on_the_shapes_and_samples_a_caption(tmp_path, capsys):
    out, target = tmp_path / "run", tmp_path / "s.npy"
    settings = ["condition=caption", "channels=8", "multipliers=[1,2]", "groups=4", "timesteps=20",
                "noise_schedule=cosine", "text_width=16", "text_layers=1"]  # fmt: skip
    assert main(["train", "ddpm", "--data", "shapes", "--steps", "2", "--out", str(out),
                 "--quiet", "--set", *settings]) == 0  # fmt: skip
    assert main(["sample", str(out), "--n", "3", "--caption", "a red circle", "--caption",
                 "a small blue square at the centre", "--guidance", "3",
                 "--out", str(target)]) == 0  # fmt: skip
    assert np.load(target).shape == (3, 3, 16, 16)
    capsys.readouterr()
    for flags, message in [(["--caption", "two circles"], "expected 'a' opening an object"),
                           (["--guidance", "1"], "guidance steers toward a caption"),
                           (["--label", "1"], "not class-conditional")]:  # fmt: skip
        err = one_line_refusal(["sample", str(out), *flags, "--out", str(target)], capsys)
        assert message in err


def test_a_ddpm_run_completes_measurements_from_files(tmp_path, capsys, monkeypatch):
    """--inpaint keeps the seen pixels exactly (replacement and RePaint), --super-resolve
    returns full-size images, and every misuse is one line."""
    out = tmp_path / "run"
    settings = ["channels=8", "multipliers=[1]", "timesteps=100"]
    assert main(["train", "ddpm", "--data", "digits", "--steps", "2", "--out", str(out),
                 "--quiet", "--set", *settings]) == 0  # fmt: skip
    from scratchgen import data

    x = data.load("digits").test[:3]
    mask = np.zeros((8, 8), bool)
    mask[:4] = True
    np.save(tmp_path / "mask.npy", mask)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "low.npy", x.reshape(3, 1, 4, 2, 4, 2).mean(axis=(3, 5)))
    target = tmp_path / "done.npy"
    inpaint = ["--inpaint", str(tmp_path / "mask.npy"), "--given", str(tmp_path / "x.npy")]
    for flags in (["--solver", "replacement"], ["--solver", "repaint"], ["--steps", "25"]):
        assert main(["sample", str(out), *inpaint, *flags, "--out", str(target)]) == 0
        np.testing.assert_array_equal(np.load(target)[:, :, :4], x[:, :, :4])
    assert main(["sample", str(out), "--super-resolve", str(tmp_path / "low.npy"), "--solver",
                 "dps", "--out", str(tmp_path / "sr.png")]) == 0  # fmt: skip
    # a figure: the measurement, the completions and the truth, three images a row
    written, write = [], cli._write_samples

    def recorded(model, images, path, reference, columns=None):
        written.append((images, columns))
        write(model, images, path, reference, columns)

    monkeypatch.setattr(cli, "_write_samples", recorded)
    super_resolve = [
        "--super-resolve",
        str(tmp_path / "low.npy"),
        "--truth",
        str(tmp_path / "x.npy"),
    ]
    for flags in (super_resolve, inpaint):
        figure = ["--steps", "10", "--out", str(tmp_path / "f.png")]
        assert main(["sample", str(out), *flags, *figure]) == 0
        images, columns = written.pop()
        assert columns == 3 and images.shape == (9, 1, 8, 8)
        np.testing.assert_array_equal(images[6:], x)
    assert main(["sample", str(out), "--super-resolve", str(tmp_path / "low.npy"),
                 "--out", str(target)]) == 0  # fmt: skip
    upscaled, low = np.load(target), np.load(tmp_path / "low.npy")
    assert upscaled.shape == (3, 1, 8, 8)
    # its blocks average to the low image, to rounding, away from black and white (where the
    # clip to the levels moves a block's mean)
    error = np.abs(upscaled.reshape(3, 1, 4, 2, 4, 2).mean(axis=(3, 5)) - low)
    inside = (low > 2) & (low < 14)
    assert inside.sum() > 5 and np.mean(error[inside] <= 0.5) > 0.9
    capsys.readouterr()
    for flags, message in [
        (["--inpaint", str(tmp_path / "mask.npy")], "--inpaint needs --given"),
        (["--colorize", str(tmp_path / "low.npy")], "needs colour images"),
        (["--super-resolve", str(tmp_path / "x.npy")], "the measurement must be (3, 1, 4, 4)"),
        (["--inpaint", str(tmp_path / "none.npy"), "--given", str(tmp_path / "x.npy")],
         "could not read the mask"),
        (["--super-resolve", str(tmp_path / "low.npy"), "--factor", "0"],
         "--factor must be 1 or more"),
        ([*inpaint, "--steps", "101"], "--steps must be from 1 to the model's 100 levels"),
        ([*inpaint, "--truth", str(tmp_path / "low.npy")], "--truth must be (3, 1, 8, 8)"),
    ]:  # fmt: skip
        err = one_line_refusal(["sample", str(out), *flags, "--out", str(target)], capsys)
        assert message in err, err


def test_a_consistency_model_distils_a_ddpm_run_and_refuses_other_teachers(tmp_path, capsys):
    teacher, student = tmp_path / "ddpm", tmp_path / "cd"
    small = ["--steps", "3", "--quiet", "--set", "hidden=[8]"]
    assert main(["train", "ddpm", "--data", "two_moons", "--out", str(teacher), *small,
                 "timesteps=40"]) == 0  # fmt: skip
    assert main(["train", "consistency", "--data", "two_moons", "--out", str(student), *small,
                 "objective=distillation", f"teacher={teacher}", "N=6"]) == 0  # fmt: skip
    assert main(["sample", str(student), "--n", "5", "--out", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (5, 2)
    mixture = tmp_path / "mixture"
    assert main(["train", "gaussian_mixture", "--data", "two_moons", "--out", str(mixture),
                 "--steps", "2", "--quiet"]) == 0  # fmt: skip
    for folder, message in ((mixture, "is a gaussian_mixture"), (tmp_path / "none", "none")):
        err = one_line_refusal(["train", "consistency", "--data", "two_moons", "--out",
                                str(tmp_path / "x"), *small, "objective=distillation",
                                f"teacher={folder}"], capsys)  # fmt: skip
        assert message in err
