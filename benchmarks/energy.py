"""Energy-based and score-based models: the results tables of issue 19.

* ``toys``: each objective of ``ebm`` (cd, exact, sliced, denoising, nce) on eight Gaussians,
  two moons and the checkerboard, all with exact densities: the learned density normalised on
  a grid and its KL(data || model) = test NLL - H(data), and samples by 500 Langevin steps
  from the fresh chains' box (``docs/energy_toys.png``) with their MMD to the test set.
  Every row samples with plain Langevin on p (``step_size=None``, noise 0.1: epsilon =
  0.01), so that the samples are of the density whose KL is reported.
* ``variance``: the spread of each score-matching estimate on one fitted model and one batch
  of 256 points, over 200 draws: the loss's standard deviation and tr Cov of its parameter
  gradient (``estimators.gradient_variance``): exact, sliced with Gaussian and Rademacher
  directions, each with and without variance reduction, and denoising at sigma 0.1. (The
  score ignores the energy's output bias, so that parameter is left out.)
* ``rbm``: a 500-hidden-unit RBM on binarized MNIST by CD-1, CD-k and PCD-1, with its test
  log-probability through AIS's log Z (100 chains, 10 000 temperatures on Salakhutdinov &
  Murray's schedule), beside their table; ``docs/energy_rbm.png`` (persistent chains and
  fresh Gibbs samples).
* ``images``: the image EBM (CD, Langevin from a replay buffer at Du & Mordatch's settings;
  on MNIST 16 filters, 30 Langevin steps and batch 64, for a CPU) on the digits and MNIST:
  FID and KID of the buffer's chains and of fresh chains, with the training diagnostics
  (``docs/energy_ebm_<data>.png``).
* ``ncsn``: NCSN (the UNet) on the digits (``--steps``) and MNIST (``--minutes`` of training on
  the DDPM MNIST table's network, kept in ``--runs`` and resumed from there), sampled by
  annealed Langevin: FID and KID of one set of chains before and after the final denoising
  step, under the EMA weights where the run kept them (``docs/energy_ncsn_<data>.png``).
* ``gif``: NCSN (an MLP, the tour's settings) on each toy, and its annealed Langevin chains
  level by level from N(0, sigma_1^2 I) to the density, one panel a toy
  (``docs/energy_annealed_langevin.gif``), with the samples' mean log-density under the data.

Each row is printed as JSON. Run: python -m benchmarks.energy
toys|variance|rbm|images|ncsn|gif [--steps N] [--data NAME ...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import logsumexp

from benchmarks.budget import trained_for
from benchmarks.diffusion import MNIST_TRAINING
from scratchgen import data, models, train, viz
from scratchgen.tour.scores import EPS, NCSN_SETTINGS, STEPS_PER_LEVEL

OBJECTIVES = ("cd", "exact", "sliced", "denoising", "nce")
TOYS = ("eight_gaussians", "two_moons", "checkerboard")
# every toy row: plain Langevin on p for sampling (and for cd's chains)
TOY_MODEL = {"hidden": [128, 128], "step_size": None, "noise": 0.1, "grad_clamp": 0.0,
             "langevin_steps": 20, "buffer_size": 2000}  # fmt: skip
TOY_TRAINING = {"batch_size": 256, "lr": 1e-3, "eval_every": 10**9, "log_every": 50}
# Salakhutdinov & Murray 2008, table 1: MNIST, 500 hidden units, test log-probability by AIS
RBM_PUBLISHED = {"CD-1": -125.53, "CD-25": -86.34}
RBM_ROWS = {"CD-1": {"k": 1}, "CD-25": {"k": 25}, "PCD-1": {"k": 1, "persistent": True}}
# per dataset: the energy's settings and the batch. MNIST's is sized for a CPU: on an idle core a
# step took 6.4 s with 32 filters at batch 128, 2.7 s with 16, 0.65 s with 16 filters, 30
# Langevin steps and batch 64 (the default's 60 steps halved)
IMAGE_EBM = {"digits": ({"filters": 16, "buffer_size": 4096}, 128),
             "mnist": ({"filters": 16, "buffer_size": 8192, "langevin_steps": 30}, 64)}  # fmt: skip
DIGITS_NCSN = {"channels": 16, "multipliers": [1, 2], "embedding": 32}
# MNIST: the network and training of the DDPM MNIST table (a 32-channel, three-scale UNet takes
# 4.5 s a step at batch 128 on one core, against 0.68 s for this one at 64)
MNIST_NCSN = {"channels": 16, "multipliers": [1, 2], "embedding": 32, "groups": 8}
# the digits' whole test set (359 images); MNIST's count as the DDPM table's (1000 NFE each)
NCSN_SAMPLES = {"digits": 359, "mnist": 256}


def _print(row: dict) -> None:
    print(json.dumps(row), flush=True)


# ---------------------------------------------------------------------- 2-D toys
def toys(steps: int, folder: Path) -> None:
    import matplotlib.pyplot as plt

    from scratchgen.metrics import mmd

    fig, axes = plt.subplots(2 * len(TOYS), len(OBJECTIVES), figsize=(3 * len(OBJECTIVES),
                                                                     6 * len(TOYS)))  # fmt: skip
    for row, name in enumerate(TOYS):
        dataset = data.load(name)
        test = dataset.test[:10000]
        entropy = -float(np.mean(dataset.log_density(test)))
        for column, objective in enumerate(OBJECTIVES):
            model = models.create("ebm", dataset.info, objective=objective, **TOY_MODEL)
            fitted = train.fit(model, dataset, progress=False, steps=steps, **TOY_TRAINING)
            log_z = model.log_normalizer()
            nll = -float(np.mean(model.log_prob(test, log_z=log_z).data))
            samples = model.sample(2000, np.random.default_rng(1), steps=500)
            _print({"data": name, "objective": objective, "steps": steps,
                    "seconds": fitted["seconds"], "test_nll": nll, "kl": nll - entropy,
                    "entropy": entropy, "samples_mmd": mmd(test[:2000], samples)})  # fmt: skip
            top, bottom = axes[2 * row, column], axes[2 * row + 1, column]
            viz.density(lambda x, m=model, z=log_z: m.log_prob(x, log_z=z).data, ax=top,
                        title=f"{name}, {objective}: KL {nll - entropy:.2f}")  # fmt: skip
            viz.scatter(samples, ax=bottom, title="500 Langevin steps")
            for ax in (top, bottom):
                ax.set_xlim(-3, 3)
                ax.set_ylim(-3, 3)
    fig.tight_layout()
    fig.savefig(folder / "energy_toys.png", dpi=80)
    print(f"wrote {folder / 'energy_toys.png'}")


def annealed_gif(steps: int, folder: Path, frames_per_level: int = 4) -> None:
    chains, sigmas = {}, None
    for name in TOYS:
        dataset = data.load(name)
        model = models.create("ncsn", dataset.info, **NCSN_SETTINGS)
        fitted = train.fit(model, dataset, progress=False, steps=steps, batch_size=256, lr=3e-3,
                           eval_every=10**9)  # fmt: skip
        samples, trajectory = model.sample(1000, np.random.default_rng(1), eps=EPS,
                                           steps_per_level=STEPS_PER_LEVEL,
                                           return_trajectory=True)  # fmt: skip
        every = STEPS_PER_LEVEL // frames_per_level
        chains[name] = list(trajectory[::every]) + [samples]
        sigmas = model.sigmas
        log_density = {"samples": samples, "data": dataset.test[:1000]}
        _print({"data": name, "steps": steps, "seconds": fitted["seconds"],
                "levels": len(sigmas), "sigma_1": float(sigmas[0]),
                **{f"{k}_log_density": float(np.mean(dataset.log_density(v)))
                   for k, v in log_density.items()}})  # fmt: skip
    titles = [f"level {i // frames_per_level + 1} of {len(sigmas)}, sigma "
              f"{sigmas[min(i // frames_per_level, len(sigmas) - 1)]:.2g}"
              for i in range(len(chains[TOYS[0]]) - 1)]  # fmt: skip
    titles.append("after the denoising step")
    path = viz.trajectory_gif(chains, folder / "energy_annealed_langevin.gif", fps=6,
                              extent=(-4, 4, -4, 4), titles=titles)  # fmt: skip
    print(f"wrote {path}")


# ---------------------------------------------------------------------- estimator variance
def variance(steps: int, draws: int = 200) -> None:
    import autodiff as ad
    from scratchgen import score_matching as sm
    from scratchgen.estimators import gradient_variance

    dataset = data.load("eight_gaussians")
    model = models.create("ebm", dataset.info, objective="sliced", **TOY_MODEL)
    train.fit(model, dataset, progress=False, steps=steps, **TOY_TRAINING)
    batch = model.signal(dataset.test[:256])
    rng = np.random.default_rng(0)
    score = model.score_tensor
    # the score -grad_x E ignores E's output bias: its gradient is left out, not zero
    used = ad.grad(sm.exact_score_matching(score, batch), list(model.parameters()),
                   allow_unused=True)  # fmt: skip
    params = [p for p, g in zip(model.parameters(), used) if g is not None]

    def sliced(distribution: str, reduced: bool):
        return lambda: sm.sliced_score_matching(score, batch, rng, distribution=distribution,
                                                variance_reduction=reduced)  # fmt: skip

    def fresh_batch():
        x = dataset.train[rng.choice(len(dataset.train), size=len(batch), replace=False)]
        return sm.exact_score_matching(score, model.signal(x))

    estimators = {
        "exact": lambda: sm.exact_score_matching(score, batch),
        "exact, a fresh batch each draw (the data's noise)": fresh_batch,
        "sliced, Gaussian v": sliced("gaussian", False),
        "sliced, Gaussian v, variance-reduced": sliced("gaussian", True),
        "sliced, Rademacher v": sliced("rademacher", False),
        "sliced, Rademacher v, variance-reduced": sliced("rademacher", True),
        "denoising, sigma 0.1": lambda: sm.denoising_score_matching(score, batch, 0.1, rng),
    }
    for name, estimate in estimators.items():
        values = [estimate().item() for _ in range(draws)]
        _print({"estimator": name, "draws": draws, "batch": len(batch),
                "loss_mean": float(np.mean(values)), "loss_sd": float(np.std(values, ddof=1)),
                "grad_variance": gradient_variance(estimate, params, draws)})  # fmt: skip


# ---------------------------------------------------------------------- RBMs
def rbm(steps: int, folder: Path, k_steps: int, seed: int, ais_steps: int = 10_000) -> None:
    """Every row from ``seed``: the weights' start, the batches' order and AIS's chains."""
    dataset = data.load("binarized_mnist")
    pictures = []
    for label, settings in RBM_ROWS.items():
        row_steps = k_steps if settings["k"] > 1 else steps
        model = models.create("rbm", dataset.info, hidden=500, seed=seed, **settings)
        fitted = train.fit(model, dataset, progress=False, steps=row_steps, batch_size=100,
                           lr=1e-3, eval_every=10**9, seed=seed)  # fmt: skip
        log_w = model.ais_log_weights(np.random.default_rng(seed), chains=100, steps=ais_steps)
        log_z = float(logsumexp(log_w) - math.log(len(log_w)))
        test_log_p = float(np.mean(model.log_prob(dataset.test, log_z=log_z).data))
        train_log_p = float(np.mean(model.log_prob(dataset.train[:10000], log_z=log_z).data))
        _print({"model": label, "seed": seed, "hidden": 500, "steps": row_steps,
                "epochs": row_steps * 100 / len(dataset.train), "seconds": fitted["seconds"],
                "ais_chains": 100, "ais_steps": ais_steps, "log_z": log_z,
                "log_w_sd": float(np.std(log_w)), "test_log_p": test_log_p,
                "train_log_p": train_log_p,
                "published": RBM_PUBLISHED.get(label)})  # fmt: skip
        pictures.append(model.sample(20, np.random.default_rng(1), steps=1000))
    viz.image_grid(np.concatenate(pictures), columns=20, path=folder / "energy_rbm.png",
                   title="RBM samples, 1000 Gibbs sweeps: " + "; ".join(RBM_ROWS))  # fmt: skip
    print(f"wrote {folder / 'energy_rbm.png'}")


# ---------------------------------------------------------------------- images
def _sample_scores(samples: np.ndarray, dataset, rng: np.random.Generator) -> dict:
    from scratchgen.evaluation import score_samples

    return score_samples(samples, dataset, ["fid", "kid"], rng, progress=False)


def images(steps: int, folder: Path, names: list[str], n: int = 2000) -> None:
    import matplotlib.pyplot as plt

    for name in names:
        dataset = data.load(name)
        settings, batch = IMAGE_EBM[name]
        model = models.create("ebm", dataset.info, **settings)
        trainer = train.Trainer(model, dataset, train.TrainConfig(steps=steps, batch_size=batch,
                                                                  lr=1e-4, eval_every=10**9,
                                                                  log_every=10),
                                progress=False)  # fmt: skip
        fitted = trainer.fit()
        rng = np.random.default_rng(0)
        count = min(n, len(model.replay), len(dataset.test))
        drawn = {"buffer": model.sample(count, rng, from_buffer=True),
                 "fresh, 60 steps": model.sample(count, rng, steps=60),
                 "fresh, 256 steps": model.sample(count, rng, steps=256)}  # fmt: skip
        for label, samples in drawn.items():
            scores = _sample_scores(samples, dataset, rng)
            _print({"data": name, "samples": label, "steps": steps, **scores,
                    "seconds": fitted["seconds"]})  # fmt: skip
        fig, axes = plt.subplots(1, 4, figsize=(18, 4.5))
        for ax, (label, samples) in zip(axes, drawn.items()):
            ax.imshow(viz.tile(samples[:64], dataset.info.levels, 8), interpolation="nearest")
            ax.set_title(label)
            ax.axis("off")
        for key in ("energy_data", "energy_samples", "energy_gap"):
            axes[3].plot([r["step"] for r in trainer.history],
                         [r[key] for r in trainer.history], label=key)  # fmt: skip
        axes[3].legend()
        axes[3].set_xlabel("step")
        fig.tight_layout()
        fig.savefig(folder / f"energy_ebm_{name}.png", dpi=80)
        print(f"wrote {folder / f'energy_ebm_{name}.png'}")


def _trained_ncsn(name: str, steps: int, minutes: float, out: Path) -> tuple[Any, train.Trainer]:
    """The NCSN of one row and its trainer: the digits for ``steps``, MNIST for ``minutes`` on
    the DDPM MNIST table's network and training, resumable from ``out``."""
    dataset = data.load(name)
    if name == "mnist":
        return trained_for(minutes, "ncsn", dataset, MNIST_NCSN, MNIST_TRAINING,
                           out / "ncsn-mnist")  # fmt: skip
    model = models.create("ncsn", dataset.info, **DIGITS_NCSN)
    config = train.TrainConfig(steps=steps, batch_size=128, lr=1e-3, ema=0.999,
                               eval_every=10**9)  # fmt: skip
    trainer = train.Trainer(model, dataset, config, progress=False)
    trainer.fit()
    return model, trainer


def ncsn(steps: int, minutes: float, out: Path, folder: Path, names: list[str]) -> None:
    for name in names:
        dataset = data.load(name)
        model, trainer = _trained_ncsn(name, steps, minutes, out)
        count = NCSN_SAMPLES[name]
        # one chain gives both rows: its state before the final denoising step, and after
        rng = np.random.default_rng(0)
        # the average where the run kept one (the digits'); MNIST's, on the DDPM table's
        # training, kept none, and Song & Ermon 2019 sampled from the raw weights too
        weights = "raw" if trainer.ema is None else "ema"
        with contextlib.nullcontext() if trainer.ema is None else trainer.ema.applied(model):
            _, trajectory = model.sample(count, rng, denoise=True, return_trajectory=True)
        pictures = []
        for denoise, u in ((True, trajectory[-1]), (False, trajectory[-2])):
            samples = model.from_unit(u)
            scores = _sample_scores(samples, dataset, rng)
            _print({"data": name, "denoise": denoise, "samples": count, "weights": weights,
                    **scores, "train_steps": trainer.step,
                    "seconds": round(trainer.seconds)})  # fmt: skip
            pictures.append(samples[:40])
        viz.image_grid(np.concatenate(pictures), levels=dataset.info.levels, columns=20,
                       path=folder / f"energy_ncsn_{name}.png",
                       title=f"NCSN on {name}: with the denoising step (2 rows), "
                       "without (2 rows)")  # fmt: skip
        print(f"wrote {folder / f'energy_ncsn_{name}.png'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", choices=("toys", "variance", "rbm", "images", "ncsn", "gif"))
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--k-steps", type=int, default=3000, help="rbm: the CD-25 row's steps")
    parser.add_argument("--seed", type=int, default=0, help="rbm: the seed of every row")
    parser.add_argument("--data", nargs="+", default=["digits", "mnist"])
    parser.add_argument("--minutes", type=float, default=35.0, help="ncsn: MNIST's training")
    parser.add_argument(
        "--runs",
        type=Path,
        default=Path("runs/energy"),
        help="ncsn: where MNIST's run (and its checkpoint) is kept",
    )
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    defaults = {"toys": 3000, "variance": 3000, "rbm": 10_000, "images": 2000, "ncsn": 5000,
                "gif": 2500}  # fmt: skip
    steps = args.steps or defaults[args.table]
    if args.table == "toys":
        toys(steps, args.out)
    elif args.table == "variance":
        variance(steps)
    elif args.table == "rbm":
        rbm(steps, args.out, args.k_steps, args.seed)
    elif args.table == "images":
        images(steps, args.out, args.data)
    elif args.table == "gif":
        annealed_gif(steps, args.out)
    else:
        ncsn(steps, args.minutes, args.runs, args.out, args.data)


if __name__ == "__main__":
    main()
