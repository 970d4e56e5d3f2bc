"""Flow matching on MNIST: FID against the number of steps, for issue 22.

One ``flow_matching`` model (Lipman et al. 2023: the optimal-transport path from N(0, I),
sigma_min = 1e-4, the independent coupling) with the diffusion table's UNet and training
(``benchmarks.diffusion.MNIST_NETWORK`` and ``MNIST_TRAINING``) for ``--minutes``, sampled
from its EMA weights by Euler at 1 to 100 steps, Heun at 5 to 50 steps (two evaluations a
step) and the adaptive solver (rtol = atol = 1e-3, as the DDPM's ODE row); FID and KID
of ``--samples`` samples by the scratchgen MNIST network, with the number of network
evaluations. The DDPM beside it is the consistency benchmark's teacher, trained with the same
network for the same minutes (``benchmarks.consistency mnist``). ``docs/flow_matching_mnist.png``:
a row of samples per sampler; ``docs/flow_matching_mnist_fid.png``: FID against evaluations.
Run: python -m benchmarks.flow_matching_mnist [--minutes M] [--samples N] [--out FOLDER]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks.budget import trained_for
from benchmarks.diffusion import MNIST_NETWORK, MNIST_TRAINING
from scratchgen import data, viz
from scratchgen.evaluation import score_samples

SETTINGS = {**MNIST_NETWORK, "rtol": 1e-3, "atol": 1e-3}
SAMPLERS = [("euler", s) for s in (1, 2, 5, 10, 20, 50, 100)] + [
    ("heun", s) for s in (5, 10, 20, 50)] + [("adaptive", None)]  # fmt: skip


def main() -> None:
    import matplotlib.pyplot as plt

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=25.0, help="training budget")
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--out", type=Path, default=Path("runs/flow-matching-mnist"))
    parser.add_argument("--figures", type=Path, default=Path("docs"))
    args = parser.parse_args()
    args.figures.mkdir(parents=True, exist_ok=True)
    dataset = data.load("mnist")
    model, trainer = trained_for(args.minutes, "flow_matching", dataset, SETTINGS,
                                 MNIST_TRAINING, args.out)  # fmt: skip
    rows, pictures = [], []
    with trainer.ema.applied(model):
        for sampler, steps in SAMPLERS:
            rng = np.random.default_rng(0)
            started = time.perf_counter()
            samples, nfe = model.sample(args.samples, rng, sampler, steps, return_nfe=True)
            seconds = time.perf_counter() - started
            scores = score_samples(samples, dataset, ["fid", "kid"], rng, progress=False)
            rows.append({"sampler": sampler, "steps": steps, "nfe": int(nfe),
                         "sampling_seconds": round(seconds, 1), "train_steps": trainer.step,
                         "train_seconds": round(trainer.seconds), **scores})  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
            pictures.append(samples[:16])
    (args.out / "results.json").write_text(json.dumps(rows))
    labels = ", ".join(f"{r['sampler']} {r['steps'] or ''}".strip() for r in rows)
    viz.image_grid(np.concatenate(pictures), levels=dataset.info.levels, columns=16,
                   path=args.figures / "flow_matching_mnist.png",
                   title=f"flow matching on MNIST, a row per sampler: {labels}")  # fmt: skip
    fid_key = next(k for k in rows[0] if k.startswith("fid_"))
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for sampler in ("euler", "heun", "adaptive"):
        mine = [r for r in rows if r["sampler"] == sampler]
        ax.plot([r["nfe"] for r in mine], [r[fid_key] for r in mine], "o-", label=sampler)
    ax.set(xscale="log", xlabel="network evaluations", ylabel=f"FID ({args.samples} samples)",
           title="Flow matching on MNIST: FID against evaluations")  # fmt: skip
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.figures / "flow_matching_mnist_fid.png", dpi=90)
    print(f"wrote {args.figures / 'flow_matching_mnist.png'} and _fid.png")


if __name__ == "__main__":
    main()
