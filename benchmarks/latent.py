"""Latent-variable models under one fixed training budget: the results table of issue 6.

For each model: the test ELBO, the importance-weighted estimate of log p(x) with K samples
(nats per image, K = 1000 by default), the training time per epoch, the active units, and the
variance of the encoder's gradient estimate, tr Cov[g] over 100 draws of the model's noise on
one batch of 100 test images at the end of training (the figure by which the estimators of
the discrete VAE differ). The VQ-VAE has only its bound: its q(z | x) is a point mass.
Runs on the binary digits by default; ``--data binarized_mnist``
with ``--subset`` scores only the first images of the test set (K = 5000 over all 10 000
would take hours on two cores).

Run: python -m benchmarks.latent [--data NAME] [--epochs N] [--k K] [--subset N] [--lr LR]
[--only MODEL ...] [--figure PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks import sample_scores
from scratchgen import data, models, train, viz
from scratchgen.estimators import gradient_variance
from scratchgen.metrics import ais_log_likelihood
from scratchgen.metrics.features import RECIPES

MODELS = {  # label: (registered name, settings)
    "VAE": ("vae", {}),
    "IWAE, k = 5": ("iwae", {"samples": 5}),
    "VAE, convolutional": ("vae", {"arch": "conv"}),
    "GMVAE, 10 prior components": ("gmvae", {}),
    "discrete, REINFORCE": ("discrete_vae", {"estimator": "reinforce", "baseline": "none"}),
    "discrete, REINFORCE + NVIL": ("discrete_vae", {"estimator": "reinforce", "baseline": "nvil"}),
    "discrete, REINFORCE + leave-one-out, S = 4": (
        "discrete_vae", {"estimator": "reinforce", "baseline": "leave_one_out", "samples": 4}),
    "discrete, Gumbel-softmax": ("discrete_vae", {"estimator": "gumbel"}),
    "discrete, straight-through": ("discrete_vae", {"estimator": "straight_through"}),
    "VQ-VAE, 16 codes, 2x2 grid": ("vqvae", {"codes": 16, "code_dim": 8}),
}  # fmt: skip
CONTINUOUS_LATENTS = ("vae", "iwae", "gmvae")
SIZES = {  # per dataset: the networks (MNIST: Burda et al.'s one-stochastic-layer sizes)
    "digits_binary": {"vae": {"latent": 16, "hidden": (256,)}, "discrete_vae": {"hidden": (256,)}},
    "binarized_mnist": {"vae": {"latent": 50, "hidden": (200, 200)},
                        "discrete_vae": {"groups": 20, "hidden": (200, 200)}},
}  # fmt: skip


def _sizes(dataset: str, name: str) -> dict:
    if name == "vqvae":  # convolutional, its own sizes
        return {}
    family = "discrete_vae" if name == "discrete_vae" else "vae"
    return SIZES.get(dataset, SIZES["digits_binary"])[family]


def _ais_against_iwae(model, x: np.ndarray, steps: int) -> dict:
    """-log p(x) by AIS (16 chains, ``steps`` temperatures) and by the model's importance-
    weighted estimate on the same images."""
    ais = ais_log_likelihood(model, x, np.random.default_rng(0), steps=steps)
    return {"ais": -float(np.mean(ais)), "iwae_same": -float(np.mean(model.log_prob(x).data))}


def run(dataset_name: str, epochs: int, k: int, subset: int | None, only: list[str] | None,
        figure: Path | None, lr: float = 3e-3, ais_images: int = 100,
        ais_steps: int = 500) -> list[dict]:  # fmt: skip
    dataset = data.load(dataset_name)
    test = dataset.test[:subset] if subset else dataset.test
    batch = 64 if dataset_name == "digits_binary" else 100
    steps = epochs * (len(dataset.train) // batch)
    probe = test[:100]  # the batch on which the gradient variance is measured
    rows, pictures = [], []
    scored = dataset_name in RECIPES  # FID and the rest need the data's feature network
    for label, (name, settings) in MODELS.items():
        if only and label not in only:
            continue
        model = models.create(name, dataset.info, **_sizes(dataset_name, name), **settings)
        smooth = name in CONTINUOUS_LATENTS and ais_images > 0  # HMC needs continuous z
        model.hparams["eval_samples"] = 1  # the evaluation that ends fit() is not the one kept
        fitted = train.fit(model, dataset, progress=False, steps=steps, batch_size=batch, lr=lr,
                           eval_every=10**9)  # fmt: skip
        seconds = fitted["seconds"]  # the training loop alone
        model.hparams["eval_samples"] = k
        model.eval()  # no codebook or running-statistics updates while measuring
        metrics = train.evaluate(model, test, batch=100)
        # the VQ-VAE's encoder is deterministic: no noise, no gradient variance to speak of
        variance = None if name == "vqvae" else gradient_variance(
            lambda m=model: m.loss(probe), list(model.encoder.parameters()), 100)  # fmt: skip
        active = model.active_units(test) if hasattr(model, "active_units") else None
        rows.append({"model": label, "elbo": metrics["test_elbo"], "nll": metrics.get("test_nll"),
                     "seconds_per_epoch": seconds / epochs, "active": active,
                     "variance": variance, **(_ais_against_iwae(model, test[:ais_images],
                                                                  ais_steps) if smooth else {}),
                     **(sample_scores.of_model(model, dataset) if scored else {})})  # fmt: skip
        pictures.append((label, model.sample(8, np.random.default_rng(0))))
        if name == "vae" and not settings:
            pictures.append(("test images", test[:8]))
            pictures.append(("their VAE reconstructions", model.reconstruct(test[:8])))
    if figure is not None:
        _figure(pictures, figure)
    return rows


def _figure(pictures: list[tuple[str, np.ndarray]], path: Path) -> None:
    """One labelled row of eight images per entry (samples, unless the label says otherwise)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(pictures), 1, figsize=(8, 0.8 * len(pictures)))
    for ax, (label, images) in zip(np.atleast_1d(axes), pictures):
        ax.imshow(viz.tile(np.asarray(images, float), None, 8), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.subplots_adjust(left=0.42, right=0.98, top=0.98, bottom=0.02, hspace=0.15)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latent")
    parser.add_argument("--data", default="digits_binary")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--k", type=int, default=1000, help="samples of the IWAE estimate")
    parser.add_argument("--subset", type=int, help="score the first N test images only")
    parser.add_argument("--only", nargs="*", choices=list(MODELS), help="models to run")
    parser.add_argument("--figure", type=Path)
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam's learning rate")
    parser.add_argument("--ais-images", type=int, default=100,
                        help="test images scored by AIS too (0: none)")  # fmt: skip
    parser.add_argument("--ais-steps", type=int, default=500, help="AIS temperatures")
    args = parser.parse_args()
    rows = run(args.data, args.epochs, args.k, args.subset, args.only, args.figure, args.lr,
               args.ais_images, args.ais_steps)  # fmt: skip
    print(f"{args.data}, {args.epochs} epochs, Adam lr {args.lr:g}; log p(x) by IWAE with "
          f"K = {args.k}")  # fmt: skip
    print(f"  {'model':44s} {'ELBO':>8s} {'-log p':>8s} {'s/epoch':>8s} {'active':>6s} "
          f"{'grad var':>10s} {'AIS':>8s} {'IWAE':>8s} {sample_scores.header()}")  # fmt: skip
    print(f"  {'':44s} {'':8s} {'':8s} {'':8s} {'':6s} {'':10s} "
          f"{'first ' + str(args.ais_images):>17s}")  # fmt: skip
    if args.data in RECIPES:
        floor = sample_scores.cells(sample_scores.of_training_images(data.load(args.data)))
        print(f"  {'the training images':44s} {'':8s} {'':8s} {'':8s} {'':6s} {'':10s} "
              f"{'':8s} {'':8s} {floor}")  # fmt: skip
    for r in rows:
        nll = "-" if r["nll"] is None else f"{r['nll']:.2f}"
        active = "-" if r["active"] is None else str(r["active"])
        variance = "-" if r["variance"] is None else f"{r['variance']:.3g}"
        ais, iwae = (f"{r[key]:.2f}" if key in r else "-" for key in ("ais", "iwae_same"))
        scores = sample_scores.cells(r) if "FID" in r else ""
        print(f"  {r['model']:44s} {r['elbo']:8.2f} {nll:>8s} {r['seconds_per_epoch']:8.2f} "
              f"{active:>6s} {variance:>10s} {ais:>8s} {iwae:>8s} {scores}")  # fmt: skip


if __name__ == "__main__":
    main()
