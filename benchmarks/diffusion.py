"""Diffusion and score-SDE models: the results tables of issue 20.

* ``toys``: ``ddpm`` and ``score_sde`` (VP, sub-VP, VE) on the four 2-D densities of the
  flows' table, at its budget (2000 Adam steps of 256 points at 3e-3 with a cosine decay),
  sampled from the EMA weights: the KL gap test NLL - H(data), through the ODE for the SDE
  models (exact trace) and through the variational bound for DDPM (an upper bound, so its
  "KL" is one too); W2 between 2000 samples and 2000 held-out points; samples
  (``docs/diffusion_toys.png``) and each toy's DDPM reverse chain
  (``docs/diffusion_toys_reverse.gif``).
* ``digits``: the 17-level digits in bits/dim, DDPM through its bound (discretised decoder on
  the 17 levels) and the VP model through the ODE on uniformly dequantised data (Hutchinson's
  trace, one probe per example), beside PixelCNN's 1.868 and the flows' table; FID and KID of
  359 samples with the scratchgen digits network.
* ``mnist``: one DDPM (T = 1000, linear schedule, eps) trained for ``--minutes`` of wall
  clock, then sampled from its EMA weights by every sampler: ancestral, DDIM at 10, 50 and
  100 steps, and through ``score_from_eps`` as the VP SDE's score, predictor-corrector and the
  probability-flow ODE (RK45 and Heun); FID, KID, precision and recall of ``--samples``
  samples against as many test images with the scratchgen MNIST network, with each sampler's
  function evaluations and seconds; FID against evaluations (``docs/diffusion_mnist_fid.png``),
  samples (``docs/diffusion_mnist.png``) and the reverse chain (``docs/diffusion_mnist.gif``).
  The run folder (``--out``) keeps the checkpoint: run again to sample without training.
* ``fast``: the fast ODE samplers of issue 22 on one such DDPM (its own run, ``--out``
  runs/diffusion-fast): DDIM, EDM's Heun on Karras's rho = 7 grid and DPM-Solver++(2M), each at
  5, 10, 20 and 50 steps, with FID and KID of ``--samples`` samples and each sampler's network
  evaluations (counted, not assumed); FID against evaluations in one figure
  (``docs/diffusion_fast_samplers.png``).

Each row is printed as JSON. Run: python -m benchmarks.diffusion toys|digits [--steps N], or
python -m benchmarks.diffusion mnist|fast [--minutes M] [--samples N] [--out FOLDER]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.budget import trained_for
from scratchgen import data, diffusion, metrics, models, train, viz
from scratchgen.data import toy2d
from scratchgen.evaluation import score_samples

TOYS = ("eight_gaussians", "two_moons", "checkerboard", "rings")
ROWS = {"ddpm": ("ddpm", {}), "VP": ("score_sde", {"sde": "vp"}),
        "sub-VP": ("score_sde", {"sde": "subvp"}), "VE": ("score_sde", {"sde": "ve"})}  # fmt: skip
TOY_TRAINING = {"batch_size": 256, "lr": 3e-3, "schedule": "cosine", "eval_every": 10**9}
DIGITS_NETWORK = {"channels": 32, "multipliers": [1, 2], "embedding": 32, "groups": 8}
MNIST_NETWORK = {"channels": 16, "multipliers": [1, 2], "groups": 8}  # 28, 14 pixels; no attention
MNIST_TRAINING = {"batch_size": 64, "lr": 1e-3, "schedule": "cosine", "warmup": 200,
                  "eval_every": 10**9, "checkpoint_every": 250}  # fmt: skip
MNIST_SAMPLERS = ("ancestral", "ddim 10", "ddim 50", "ddim 100", "pc 100", "heun 50", "ode")
FAST_SAMPLERS = {"DDIM": "ddim", "Heun (EDM)": "edm_heun", "DPM-Solver++(2M)": "dpm_solver_pp_2m"}
FAST_STEPS = (5, 10, 20, 50)


def _print(row: dict) -> None:
    print(json.dumps(row), flush=True)


def _entropy(name: str) -> float:
    log_density = getattr(toy2d, f"{name}_log_density")
    return toy2d.entropy(log_density, getattr(toy2d, name))[0]


def toys(steps: int, folder: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(ROWS), len(TOYS), figsize=(3 * len(TOYS), 3 * len(ROWS)))
    chains = {}  # each toy's DDPM reverse chain, for the GIF
    for column, name in enumerate(TOYS):
        dataset, entropy = data.load(name), _entropy(name)
        test = dataset.test[:2000]
        for row, (label, (kind, settings)) in enumerate(ROWS.items()):
            model = models.create(kind, dataset.info, **settings)
            trainer = train.Trainer(model, dataset, train.TrainConfig(steps=steps, **TOY_TRAINING),
                                    progress=False)  # fmt: skip
            fitted = trainer.fit()
            with trainer.ema.applied(model):
                started = time.perf_counter()
                nll = -float(np.mean(model.log_prob(test).data))
                likelihood_seconds = time.perf_counter() - started
                samples = model.sample(2000, np.random.default_rng(1))
                if kind == "ddpm":
                    _, trajectory = model.sample(1000, np.random.default_rng(2),
                                                 return_trajectory=True)  # fmt: skip
                    chains[name] = list(trajectory[::40]) + [trajectory[-1]]
                    T = len(trajectory) - 1
            _print({"data": name, "model": label, "steps": steps, "seconds": fitted["seconds"],
                    "test_nll": nll, "kl": nll - entropy, "entropy": entropy,
                    "likelihood_seconds": round(likelihood_seconds, 1),
                    "w2": metrics.wasserstein2(samples, dataset.test[-2000:])})  # fmt: skip
            viz.scatter(samples, ax=axes[row, column], title=f"{label}, {name}")
    fig.tight_layout()
    fig.savefig(folder / "diffusion_toys.png", dpi=70)
    frames = len(chains[TOYS[0]]) - 1  # every 40th of the T + 1 states, and x_0
    titles = [f"DDPM's reverse chain, t = {T - 40 * i}" for i in range(frames)]
    viz.trajectory_gif(chains, folder / "diffusion_toys_reverse.gif", fps=6,
                       extent=(-4.5, 4.5, -4.5, 4.5), titles=[*titles, "x_0"])  # fmt: skip
    print(f"wrote {folder / 'diffusion_toys.png'} and diffusion_toys_reverse.gif")


def digits(steps: int, folder: Path) -> None:
    dataset = data.load("digits")
    test, pictures = dataset.test, []
    for label, (kind, settings) in (("ddpm", ROWS["ddpm"]), ("VP", ROWS["VP"])):
        model = models.create(kind, dataset.info, **DIGITS_NETWORK, **settings)
        trainer = train.Trainer(model, dataset, train.TrainConfig(steps=steps, batch_size=128,
                                                                  lr=1e-3, eval_every=10**9),
                                progress=False)  # fmt: skip
        fitted = trainer.fit()
        with trainer.ema.applied(model):
            started = time.perf_counter()
            nll = -float(np.mean(np.concatenate([model.log_prob(test[i : i + 120]).data
                                                 for i in range(0, len(test), 120)])))  # fmt: skip
            likelihood_seconds = time.perf_counter() - started
            rng = np.random.default_rng(0)
            samples = model.sample(len(test), rng)
            scores = score_samples(samples, dataset, ["fid", "kid"], rng, progress=False)
        _print({"data": "digits", "model": label, "steps": steps, "seconds": fitted["seconds"],
                "test_nll": nll, "bpd": nll / (dataset.info.dims * math.log(2)),
                "likelihood_seconds": round(likelihood_seconds, 1), **scores})  # fmt: skip
        pictures.append(samples[:40])
    title = "DDPM (ancestral, 2 rows) and the VP SDE (PC, 2 rows) on digits"
    viz.image_grid(np.concatenate(pictures), levels=dataset.info.levels, columns=20,
                   path=folder / "diffusion_digits.png", title=title)  # fmt: skip
    print(f"wrote {folder / 'diffusion_digits.png'}")


def _mnist_sample(model: Any, sampler: str, n: int, rng: np.random.Generator) -> tuple[Any, int]:
    """(samples as levels, function evaluations) of one of ``MNIST_SAMPLERS``."""
    name, _, steps = sampler.partition(" ")
    if name == "ancestral":
        return model.sample(n, rng, "ancestral"), model.schedule.T
    if name == "ddim":
        return model.sample(n, rng, "ddim", steps=int(steps)), int(steps)
    sde = diffusion.vp_sde_for(model.schedule)
    score, shape = diffusion.score_from_eps(model.schedule, model.eps), (n, *model.info.shape)
    if name == "pc":
        x, nfe = diffusion.predictor_corrector(sde, score, shape, rng, int(steps), snr=0.16,
                                               return_nfe=True)  # fmt: skip
    elif name == "heun":
        x, nfe = diffusion.probability_flow_heun(sde, score, shape, rng, int(steps),
                                                 return_nfe=True)  # fmt: skip
    else:
        x, nfe = diffusion.probability_flow_ode(sde, score, shape, rng, rtol=1e-3, atol=1e-3,
                                                return_nfe=True)  # fmt: skip
    return model.from_signal(x), nfe


def mnist(minutes: float, n: int, out: Path, folder: Path) -> None:
    import matplotlib.pyplot as plt

    dataset = data.load("mnist")
    model, trainer = trained_for(minutes, "ddpm", dataset, MNIST_NETWORK, MNIST_TRAINING, out)
    rows, pictures = [], []
    with trainer.ema.applied(model):
        for sampler in MNIST_SAMPLERS:
            rng = np.random.default_rng(0)
            started = time.perf_counter()
            samples, nfe = _mnist_sample(model, sampler, n, rng)
            seconds = time.perf_counter() - started
            scores = score_samples(samples, dataset, ["fid", "kid", "pr"], rng, progress=False)
            rows.append({"data": "mnist", "sampler": sampler, "nfe": nfe,
                         "sampling_seconds": round(seconds, 1), "train_steps": trainer.step,
                         "train_seconds": round(trainer.seconds), **scores})  # fmt: skip
            _print(rows[-1])
            pictures.append(samples[:16])
        _, trajectory = model.sample(16, np.random.default_rng(1), return_trajectory=True)
    (out / "results.json").write_text(json.dumps(rows))
    title = f"one DDPM on MNIST, a row per sampler: {', '.join(MNIST_SAMPLERS)}"
    viz.image_grid(np.concatenate(pictures), levels=dataset.info.levels, columns=16,
                   path=folder / "diffusion_mnist.png", title=title)  # fmt: skip
    frames = [np.clip((x + 1) / 2, 0, 1) for x in trajectory[::25]] + [(trajectory[-1] + 1) / 2]
    titles = [f"t = {model.schedule.T - 25 * i}" for i in range(len(frames) - 1)] + ["x_0"]
    viz.trajectory_gif(frames, folder / "diffusion_mnist.gif", fps=8, titles=titles)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    fid_key = next(k for k in rows[0] if k.startswith("fid_"))
    for row in rows:
        ax.scatter(row["nfe"], row[fid_key], label=row["sampler"])
    ax.set(xscale="log", xlabel="function evaluations", ylabel=f"FID ({n} samples)",
           title="One DDPM on MNIST: FID against evaluations")  # fmt: skip
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(folder / "diffusion_mnist_fid.png", dpi=90)
    print(f"wrote {folder / 'diffusion_mnist.png'}, .gif and _fid.png")


def fast(minutes: float, n: int, out: Path, folder: Path) -> None:
    import matplotlib.pyplot as plt

    dataset = data.load("mnist")
    model, trainer = trained_for(minutes, "ddpm", dataset, MNIST_NETWORK, MNIST_TRAINING, out)
    calls, predict = [0], model.predict

    def counted(*args, **kwargs):
        calls[0] += 1
        return predict(*args, **kwargs)

    model.predict = counted
    rows = []
    with trainer.ema.applied(model):
        for label, sampler in FAST_SAMPLERS.items():
            for steps in FAST_STEPS:
                rng, calls[0] = np.random.default_rng(0), 0
                started = time.perf_counter()
                samples = model.sample(n, rng, sampler, steps=steps)
                seconds = time.perf_counter() - started
                scores = score_samples(samples, dataset, ["fid", "kid"], rng, progress=False)
                rows.append({"data": "mnist", "sampler": label, "steps": steps, "nfe": calls[0],
                             "sampling_seconds": round(seconds, 1), "train_steps": trainer.step,
                             "train_seconds": round(trainer.seconds), **scores})  # fmt: skip
                _print(rows[-1])
    (out / "fast_results.json").write_text(json.dumps(rows))
    fid_key = next(k for k in rows[0] if k.startswith("fid_"))
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for label in FAST_SAMPLERS:
        mine = [r for r in rows if r["sampler"] == label]
        ax.plot([r["nfe"] for r in mine], [r[fid_key] for r in mine], "o-", label=label)
    ax.set(xscale="log", xlabel="network evaluations", ylabel=f"FID ({n} samples)",
           title="One DDPM on MNIST: fast ODE samplers")  # fmt: skip
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "diffusion_fast_samplers.png", dpi=90)
    print(f"wrote {folder / 'diffusion_fast_samplers.png'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", choices=("toys", "digits", "mnist", "fast"))
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--minutes", type=float, default=35.0, help="mnist: training budget")
    parser.add_argument("--samples", type=int, default=256, help="mnist: samples per sampler")
    parser.add_argument("--out", type=Path, default=None,
                        help="run folder (runs/diffusion-mnist, runs/diffusion-fast)")  # fmt: skip
    parser.add_argument("--figures", type=Path, default=Path("docs"))
    args = parser.parse_args()
    args.figures.mkdir(parents=True, exist_ok=True)
    if args.table in ("mnist", "fast"):
        out = args.out or Path(f"runs/diffusion-{args.table}")
        (mnist if args.table == "mnist" else fast)(args.minutes, args.samples, out, args.figures)
        return
    steps = args.steps or {"toys": 2000, "digits": 4000}[args.table]
    (toys if args.table == "toys" else digits)(steps, args.figures)


if __name__ == "__main__":
    main()
