"""The command line, end to end, in a temporary folder."""

import json
import subprocess
import sys

import numpy as np
import pytest

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
    assert main(["eval", str(out), "--data", "two_moons"]) == 0
    assert "kl_gap" in json.loads((out / "eval-two_moons.json").read_text())
    assert "test_nll" in capsys.readouterr().out


def test_tour_quick_writes_its_figures(tmp_path, capsys):
    assert main(["tour", "--quick", "--out", str(tmp_path)]) == 0
    for name in ("tour.png", "gallery.png", "autoregressive.png", "latent.png"):
        assert (tmp_path / name).stat().st_size > 10_000
    results = json.loads((tmp_path / "metrics.json").read_text())
    assert {"gaussian_mixture/eight_gaussians", "pixelcnn/digits", "transformer/grammar",
            "vae/digits_binary", "discrete_vae/digits_binary", "vqvae/digits_binary",
            "m2/digits_binary",
            "gaussian_mixture_em/eight_gaussians"} <= set(results)  # fmt: skip
    assert "Hessian-vector product" in capsys.readouterr().out


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


def test_divergence_exits_1_with_its_reason(tmp_path):
    result = run_cli("train", "gaussian_mixture", "--data", "eight_gaussians", "--steps", "50",
                     "--out", str(tmp_path / "r"), "--set", "lr=1e9", "--quiet")  # fmt: skip
    assert result.returncode == 1
    assert "training stopped" in result.stderr and "Traceback" not in result.stderr
