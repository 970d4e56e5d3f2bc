"""Diffusion and score-SDE models: the results tables of issue 20.

* ``toys``: ``ddpm`` and ``score_sde`` (VP, sub-VP, VE) on the four 2-D densities of the
  flows' table, at its budget (2000 Adam steps of 256 points at 3e-3 with a cosine decay),
  sampled from the EMA weights: the KL gap test NLL - H(data), through the ODE for the SDE
  models (exact trace) and through the variational bound for DDPM (an upper bound, so its
  "KL" is one too); W2 between 2000 samples and 2000 held-out points; samples
  (``docs/diffusion_toys.png``).
* ``digits``: the 17-level digits in bits/dim, DDPM through its bound (discretised decoder on
  the 17 levels) and the VP model through the ODE on uniformly dequantised data (Hutchinson's
  trace, one probe per example), beside PixelCNN's 1.868 and the flows' table; FID and KID of
  359 samples with the scratchgen digits network.

Each row is printed as JSON. Run: python -m benchmarks.diffusion toys|digits [--steps N]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from scratchgen import data, metrics, models, train, viz
from scratchgen.data import toy2d
from scratchgen.evaluation import score_samples

TOYS = ("eight_gaussians", "two_moons", "checkerboard", "rings")
ROWS = {"ddpm": ("ddpm", {}), "VP": ("score_sde", {"sde": "vp"}),
        "sub-VP": ("score_sde", {"sde": "subvp"}), "VE": ("score_sde", {"sde": "ve"})}  # fmt: skip
TOY_TRAINING = {"batch_size": 256, "lr": 3e-3, "schedule": "cosine", "eval_every": 10**9}
DIGITS_NETWORK = {"channels": 32, "multipliers": [1, 2], "embedding": 32, "groups": 8}


def _print(row: dict) -> None:
    print(json.dumps(row), flush=True)


def _entropy(name: str) -> float:
    log_density = getattr(toy2d, f"{name}_log_density")
    return toy2d.entropy(log_density, getattr(toy2d, name))[0]


def toys(steps: int, folder: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(ROWS), len(TOYS), figsize=(3 * len(TOYS), 3 * len(ROWS)))
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
            _print({"data": name, "model": label, "steps": steps, "seconds": fitted["seconds"],
                    "test_nll": nll, "kl": nll - entropy, "entropy": entropy,
                    "likelihood_seconds": round(likelihood_seconds, 1),
                    "w2": metrics.wasserstein2(samples, dataset.test[-2000:])})  # fmt: skip
            viz.scatter(samples, ax=axes[row, column], title=f"{label}, {name}")
    fig.tight_layout()
    fig.savefig(folder / "diffusion_toys.png", dpi=70)
    print(f"wrote {folder / 'diffusion_toys.png'}")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", choices=("toys", "digits"))
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    steps = args.steps or {"toys": 2000, "digits": 4000}[args.table]
    (toys if args.table == "toys" else digits)(steps, args.out)


if __name__ == "__main__":
    main()
