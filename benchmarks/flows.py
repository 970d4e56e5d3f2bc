"""Normalising flows: the results tables of issue 16.

* ``toy``: every flow on the 2-D toy densities with an exact log-density; the exact KL gap
  KL(p_data || p_model) = test NLL - H(p_data), and a figure of each density.
* ``digits``: the 17-level 8x8 digits, uniformly dequantised, bits/dim (beside PixelCNN's).
* ``mnist``: MNIST (8-bit, uniform dequantisation) for one of glow, realnvp, maf within a
  wall-clock budget (``--minutes``): test bits/dim, and for MAF the log-likelihood in logit
  space, logit(lambda + (1 - 2 lambda) y) with lambda = 1e-6, as the MAF paper reports it.
* ``vae``: the VAE with a Gaussian posterior against planar and IAF posteriors on the binary
  digits: ELBO and importance-sampled log p(x).
* ``figures``: the planar reverse-KL fits of U1-U4 (lengths 2, 8, 32), samples at temperatures
  1.0 and 0.7, and a GIF of a CNF carrying the Gaussian to a toy density.

Run: python -m benchmarks.flows toy|digits|mnist|vae|figures [options]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import autodiff as ad
from benchmarks.budget import seconds_per_step, steps_for
from scratchgen import data, models, train

TOYS = ("eight_gaussians", "two_moons", "checkerboard", "rings")
TOY_FLOWS = {  # label: (registered name, settings)
    "RealNVP, 8 couplings": ("realnvp", {"couplings": 8}),
    "Glow, 8 steps": ("glow", {"depth": 8}),
    "NICE, 4 couplings": ("nice", {"hidden": [64, 64]}),
    "MAF, 5 layers": ("maf", {}),
    "IAF, 5 layers": ("iaf", {}),
    "NSF, coupling, 4 layers": ("nsf", {}),
    "NSF, autoregressive, 4 layers": ("nsf", {"kind": "autoregressive"}),
    "CNF (FFJORD), RK4 8 steps, exact trace": ("cnf", {}),
    "Gaussian mixture, 16 full (reference)": ("gaussian_mixture", {"components": 16,
                                                                  "covariance": "full"}),
}  # fmt: skip
MNIST = {  # the MNIST runs: registered name, settings, batch and learning rate
    "glow": ("glow", {"depth": 8, "scales": 2, "filters": 32, "blocks": 1}, 64, 1e-3),
    "realnvp": ("realnvp", {"couplings": 3, "scales": 2, "filters": 32, "blocks": 1}, 64, 1e-3),
    "maf": ("maf", {"layers": 5, "hidden": [1024], "logit": 1e-6}, 100, 1e-4),
    "maf_conditional": ("maf", {"layers": 5, "hidden": [1024], "logit": 1e-6,
                                "num_classes": 10}, 100, 1e-4),
}  # fmt: skip
DIGITS = {
    "RealNVP": ("realnvp", {"couplings": 4, "filters": 32, "blocks": 2}),
    "Glow": ("glow", {"depth": 8, "filters": 32}),
    "NICE": ("nice", {}),
    "MAF": ("maf", {"hidden": [256]}),
    "NSF, coupling": ("nsf", {"hidden": [128, 128]}),
    "RealNVP, variational dequantisation": ("realnvp", {"couplings": 4, "filters": 32,
                                                        "blocks": 2,
                                                        "dequantization": "variational"}),
}  # fmt: skip


def _print(row: dict) -> None:
    print(json.dumps(row), flush=True)


def toy(steps: int, folder: Path) -> None:
    """The KL gaps, and ``flows_toy.png``: each model's density (columns) on each toy (rows).
    The CNF trains for a fifth of the steps: each of its steps is four RK4 stages of eight
    steps with an exact trace, about 20 times a coupling flow's."""
    import matplotlib.pyplot as plt

    from scratchgen import viz

    fig, axes = plt.subplots(len(TOYS), len(TOY_FLOWS), figsize=(2 * len(TOY_FLOWS),
                                                                 2 * len(TOYS)))  # fmt: skip
    for row, name in enumerate(TOYS):
        dataset = data.load(name)
        entropy = -float(np.mean(dataset.log_density(dataset.test)))
        low, high = dataset.train.min(axis=0) - 0.5, dataset.train.max(axis=0) + 0.5
        for column, (label, (model_name, settings)) in enumerate(TOY_FLOWS.items()):
            model = models.create(model_name, dataset.info, **settings)
            fitted = train.fit(model, dataset, progress=False,
                               steps=steps // 5 if model_name == "cnf" else steps,
                               batch_size=256, lr=3e-3, schedule="cosine",
                               eval_every=10**9)  # fmt: skip
            _print({"data": name, "model": label, "test_nll": fitted["test_nll"],
                    "kl_gap": fitted["test_nll"] - entropy,
                    "seconds": fitted["seconds"]})  # fmt: skip
            ax = axes[row, column]
            with ad.no_grad():
                viz.density(lambda x, m=model: m.log_prob(x).data,
                            (low[0], high[0], low[1], high[1]), 120, ax=ax)  # fmt: skip
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(label.split(",")[0], fontsize=9)
    folder.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(folder / "flows_toy.png", dpi=90)
    plt.close(fig)


def digits(steps: int) -> None:
    dataset = data.load("digits")
    for label, (name, settings) in DIGITS.items():
        model = models.create(name, dataset.info, **settings)
        fitted = train.fit(model, dataset, progress=False, steps=steps, batch_size=64, lr=1e-3,
                           schedule="cosine", warmup=100, eval_every=10**9)  # fmt: skip
        _print(
            {"model": label, "test_bpd": _bpd(model, dataset.test), "seconds": fitted["seconds"]}
        )


def _chunks(x: np.ndarray, y: np.ndarray | None, size: int = 500):
    """(x, y) in chunks; y is None for a model that is not conditional."""
    for i in range(0, len(x), size):
        yield x[i : i + size], None if y is None else y[i : i + size]


def _bpd(model, x: np.ndarray, draws: int = 4, y: np.ndarray | None = None) -> float:
    """Test bits/dim of the dequantised bound, averaged over ``draws`` draws of the noise."""

    def one_draw() -> np.ndarray:
        return np.concatenate([model.log_prob(a, b).data for a, b in _chunks(x, y)])

    with ad.no_grad():
        nll = -np.mean([one_draw() for _ in range(draws)])
    return float(nll / (model.info.dims * np.log(2)))


def _logit_space(model, x: np.ndarray, y: np.ndarray | None = None) -> float:
    """Mean log-density of the dequantised data in logit space, log p(s) with
    s = logit(lambda + (1 - 2 lambda) y): the flow's terms without the logit's log-det, the
    cells' -D log L and log q (the MAF paper's convention, Papamakarios et al. 2017, sec. 4.3)."""
    total = []
    with ad.no_grad():
        for batch, labels in _chunks(x, y):
            u = model.rng.random(batch.shape).astype(model.dtype)
            terms = model.log_prob_terms(batch, labels, u=u)
            y = ad.Tensor(((batch + u) / model.levels).astype(model.dtype))
            _, logit_det = model.flow[0](y)
            total.append(terms["log_pz"].data + terms["log_det"].data - logit_det.data)
    return float(np.mean(np.concatenate(total)))


def mnist(name: str, minutes: float, out: Path) -> None:
    """Train ``name`` on MNIST for about ``minutes`` of wall-clock time (the step count from
    the time of 10 steps after 3 of warm-up), then score the whole test set."""
    dataset = data.load("mnist")
    registered, settings, batch, lr = MNIST[name]
    per_step = seconds_per_step(registered, dataset, settings, batch, lr)
    steps = steps_for(minutes, per_step)
    model = models.create(registered, dataset.info, **settings)
    test_y = dataset.test_labels if model.conditional else None
    fitted = train.fit(model, dataset, out=out, progress=False, steps=steps, batch_size=batch,
                       lr=lr, schedule="cosine", warmup=200, clip=100.0, eval_every=10**9,
                       checkpoint_every=500)  # fmt: skip
    row = {"model": name, "steps": steps, "seconds_per_step": per_step,
           "seconds": fitted["seconds"],
           "test_bpd": _bpd(model, dataset.test, draws=1, y=test_y)}  # fmt: skip
    if registered == "maf":
        row["logit_space_log_likelihood"] = _logit_space(model, dataset.test, test_y)
    _print(row)
    (out / "result.json").write_text(json.dumps(row))
    y = np.arange(64) % 10 if model.conditional else None
    for temperature in (1.0, 0.7):
        samples = model.sample(64, np.random.default_rng(0), temperature, y=y)
        np.save(out / f"samples_t{temperature}.npy", samples)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.flows")
    parser.add_argument("table", choices=["toy", "digits", "mnist", "vae", "figures"])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--model", choices=list(MNIST), default="glow")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=Path("runs/flows"))
    parser.add_argument("--figures", type=Path, default=Path("docs"))
    args = parser.parse_args()
    if args.table == "toy":
        toy(args.steps, args.figures)
    elif args.table == "digits":
        digits(args.steps)
    elif args.table == "mnist":
        mnist(args.model, args.minutes, args.out / f"mnist-{args.model}")
    elif args.table == "vae":
        vae(args.steps)
    else:
        figures(args.steps, args.figures)


VAE_ROWS = {  # the binary digits: the plain VAE against flow posteriors, one budget
    "VAE, Gaussian posterior": {},
    "VAE, planar posterior (K = 4)": {"posterior_flow": "planar", "flow_length": 4},
    "VAE, planar posterior (K = 16)": {"posterior_flow": "planar", "flow_length": 16},
    "VAE, IAF posterior (K = 4)": {"posterior_flow": "iaf", "flow_length": 4},
}


def vae(steps: int) -> None:
    dataset = data.load("digits_binary")
    for label, settings in VAE_ROWS.items():
        model = models.create("vae", dataset.info, latent=16, hidden=[256], eval_samples=1000,
                              **settings)  # fmt: skip
        fitted = train.fit(model, dataset, progress=False, steps=steps, batch_size=64, lr=3e-3,
                           eval_every=10**9)  # fmt: skip
        _print(
            {
                "model": label,
                "test_elbo": fitted["test_elbo"],
                "test_nll": fitted["test_nll"],
                "test_kl": fitted["test_kl"],
                "seconds": fitted["seconds"],
            }
        )


def figures(steps: int, folder: Path) -> None:
    """The reverse-KL figure and the CNF's GIF (into ``folder``)."""
    import matplotlib.pyplot as plt

    from scratchgen import viz
    from scratchgen.models.flows import reverse_kl

    folder.mkdir(parents=True, exist_ok=True)
    lengths = (2, 8, 32)
    fig, axes = plt.subplots(4, 1 + len(lengths), figsize=(2.2 * (1 + len(lengths)), 8.8))
    edges = np.linspace(-4, 4, 101)
    for row, (name, U) in enumerate(reverse_kl.POTENTIALS.items()):
        log_z = reverse_kl.log_normaliser(U)
        viz.density(lambda z, U=U: -U(ad.Tensor(z)).data, (-4, 4, -4, 4), 150,
                    ax=axes[row, 0], title=f"exp(-{name})")  # fmt: skip
        for column, K in enumerate(lengths, start=1):
            rng = np.random.default_rng(0)
            flow = reverse_kl.planar_flow(K, rng)
            reverse_kl.fit_reverse_kl(U, flow, steps, rng)
            z0 = rng.standard_normal((100000, 2))
            with ad.no_grad():
                zK = flow(ad.Tensor(z0))[0].data
                kl = reverse_kl.free_energy(flow, U, z0[:20000]).item() + log_z
            axes[row, column].hist2d(zK[:, 0], zK[:, 1], bins=[edges, edges], cmap="magma")
            axes[row, column].set_title(f"K = {K}, KL {kl:.2f}")
            _print({"potential": name, "length": K, "kl": kl, "steps": steps})
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal")
    fig.tight_layout()
    fig.savefig(folder / "flows_reverse_kl.png", dpi=100)
    plt.close(fig)

    moons = data.load("two_moons")
    cnf = models.create("cnf", moons.info, hidden=[64, 64], solver_steps=8)
    train.fit(cnf, moons, progress=False, steps=steps, batch_size=256, lr=3e-3,
              schedule="cosine", eval_every=10**9)  # fmt: skip
    z = np.random.default_rng(0).standard_normal((2000, 2)).astype(cnf.dtype)
    frames = cnf.flow.trajectory(z, inverse=True)
    viz.trajectory_gif(frames, folder / "flows_cnf.gif", fps=4, extent=(-3, 3, -3, 3))


if __name__ == "__main__":
    main()
