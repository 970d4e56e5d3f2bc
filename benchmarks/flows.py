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
import time
from pathlib import Path

import numpy as np

import autodiff as ad
from scratchgen import data, models, train

TOYS = ("eight_gaussians", "two_moons", "checkerboard", "rings")
TOY_FLOWS = {  # label: (registered name, settings)
    "RealNVP, 8 couplings": ("realnvp", {"couplings": 8}),
    "Glow, 8 steps": ("glow", {"steps": 8}),
    "NICE, 4 couplings": ("nice", {"hidden": [64, 64]}),
    "MAF, 5 layers": ("maf", {}),
    "IAF, 5 layers": ("iaf", {}),
    "NSF, coupling, 4 layers": ("nsf", {}),
    "NSF, autoregressive, 4 layers": ("nsf", {"kind": "autoregressive"}),
    "CNF (FFJORD), RK4 8 steps, exact trace": ("cnf", {}),
    "Gaussian mixture, 16 full (reference)": ("gaussian_mixture", {"components": 16,
                                                                  "covariance": "full"}),
}  # fmt: skip
MNIST = {  # the MNIST models: their settings, batch and learning rate
    "glow": ({"steps": 8, "scales": 2, "filters": 32, "blocks": 1}, 64, 1e-3),
    "realnvp": ({"couplings": 3, "scales": 2, "filters": 32, "blocks": 1}, 64, 1e-3),
    "maf": ({"layers": 5, "hidden": [1024], "logit": 1e-6}, 100, 1e-4),
}
DIGITS = {
    "RealNVP": ("realnvp", {"couplings": 4, "filters": 32, "blocks": 2}),
    "Glow": ("glow", {"steps": 8, "filters": 32}),
    "NICE": ("nice", {}),
    "MAF": ("maf", {"hidden": [256]}),
    "NSF, coupling": ("nsf", {"hidden": [128, 128]}),
    "RealNVP, variational dequantisation": ("realnvp", {"couplings": 4, "filters": 32,
                                                        "blocks": 2,
                                                        "dequantization": "variational"}),
}  # fmt: skip


def _print(row: dict) -> None:
    print(json.dumps(row), flush=True)


def toy(steps: int) -> None:
    for name in TOYS:
        dataset = data.load(name)
        entropy = -float(np.mean(dataset.log_density(dataset.test)))
        for label, (model_name, settings) in TOY_FLOWS.items():
            model = models.create(model_name, dataset.info, **settings)
            fitted = train.fit(model, dataset, progress=False, steps=steps, batch_size=256,
                               lr=3e-3, schedule="cosine", eval_every=10**9)  # fmt: skip
            _print(
                {
                    "data": name,
                    "model": label,
                    "test_nll": fitted["test_nll"],
                    "kl_gap": fitted["test_nll"] - entropy,
                    "seconds": fitted["seconds"],
                }
            )


def digits(steps: int) -> None:
    dataset = data.load("digits")
    for label, (name, settings) in DIGITS.items():
        model = models.create(name, dataset.info, **settings)
        fitted = train.fit(model, dataset, progress=False, steps=steps, batch_size=64, lr=1e-3,
                           schedule="cosine", warmup=100, eval_every=10**9)  # fmt: skip
        _print(
            {"model": label, "test_bpd": _bpd(model, dataset.test), "seconds": fitted["seconds"]}
        )


def _bpd(model, x: np.ndarray, draws: int = 4) -> float:
    """Test bits/dim of the dequantised bound, averaged over ``draws`` draws of the noise."""

    def one_draw() -> np.ndarray:
        return np.concatenate([model.log_prob(x[i : i + 500]).data for i in range(0, len(x), 500)])

    with ad.no_grad():
        nll = -np.mean([one_draw() for _ in range(draws)])
    return float(nll / (model.info.dims * np.log(2)))


def _logit_space(model, x: np.ndarray) -> float:
    """Mean log-density of the dequantised data in logit space, log p(s) with
    s = logit(lambda + (1 - 2 lambda) y): the flow's terms without the logit's log-det, the
    cells' -D log L and log q (the MAF paper's convention, Papamakarios et al. 2017, sec. 4.3)."""
    total = []
    with ad.no_grad():
        for i in range(0, len(x), 500):
            batch = x[i : i + 500]
            u = model.rng.random(batch.shape).astype(model.dtype)
            terms = model.log_prob_terms(batch, u=u)
            y = ad.Tensor(((batch + u) / model.levels).astype(model.dtype))
            _, logit_det = model.flow[0](y)
            total.append(terms["log_pz"].data + terms["log_det"].data - logit_det.data)
    return float(np.mean(np.concatenate(total)))


def mnist(name: str, minutes: float, out: Path) -> None:
    """Train ``name`` on MNIST for about ``minutes`` of wall-clock time (the step count from
    the time of 10 steps after 3 of warm-up), then score the whole test set."""
    dataset = data.load("mnist")
    settings, batch, lr = MNIST[name]
    probe = models.create(name, dataset.info, **settings)
    probe.initialize(dataset.train, np.random.default_rng(0))
    from scratchgen import optim

    optimizer = optim.Adam(list(probe.parameters()), lr)
    for step in range(13):
        if step == 3:
            start = time.perf_counter()
        loss = probe.loss(dataset.train[step * batch : (step + 1) * batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    per_step = (time.perf_counter() - start) / 10
    steps = int(minutes * 60 / per_step)
    model = models.create(name, dataset.info, **settings)
    fitted = train.fit(model, dataset, out=out, progress=False, steps=steps, batch_size=batch,
                       lr=lr, schedule="cosine", warmup=200, clip=100.0, eval_every=10**9,
                       checkpoint_every=500)  # fmt: skip
    row = {"model": name, "steps": steps, "seconds_per_step": per_step,
           "seconds": fitted["seconds"],
           "test_bpd": _bpd(model, dataset.test, draws=1)}  # fmt: skip
    if name == "maf":
        row["logit_space_log_likelihood"] = _logit_space(model, dataset.test)
    _print(row)
    (out / "result.json").write_text(json.dumps(row))
    np.save(out / "samples_t1.0.npy", model.sample(64, np.random.default_rng(0), 1.0))
    np.save(out / "samples_t0.7.npy", model.sample(64, np.random.default_rng(0), 0.7))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.flows")
    parser.add_argument("table", choices=["toy", "digits", "mnist", "vae", "figures"])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--model", choices=list(MNIST), default="glow")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=Path("runs/flows"))
    args = parser.parse_args()
    if args.table == "toy":
        toy(args.steps)
    elif args.table == "digits":
        digits(args.steps)
    elif args.table == "mnist":
        mnist(args.model, args.minutes, args.out / f"mnist-{args.model}")


if __name__ == "__main__":
    main()
