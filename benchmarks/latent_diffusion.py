"""Latent diffusion on MNIST against diffusion in pixels, for issue 22.

Stage one, a convolutional ``vae`` (16 latents, 32 filters, the 256-level categorical
likelihood, beta = 0.1) for ``--vae-minutes``; stage two, ``latent_diffusion`` on its posterior
means (a DDPM with the MLP of 3 x 256 on the 16 numbers) for ``--prior-minutes``. FID and KID of
``--samples`` images, each row's with the scratchgen MNIST network:

* the VAE's reconstructions of test images, E[x | z = mu(x)]: the floor of any prior on its
  codes, since every sample is decoded the same way;
* the VAE's own prior, z ~ N(0, I), decoded by the mean;
* latent diffusion, DDPM ancestral (1000 steps) and DDIM 50, decoded by the mean;
* with ``--pixel RUN``, a DDPM in pixel space at DDIM 50 (the consistency benchmark's teacher:
  the diffusion table's UNet for 25 minutes, ``benchmarks.consistency mnist``).

Each row has the training steps and seconds of what it needed. ``docs/latent_diffusion_mnist.png``:
a row of samples per row of the table.
Run: python -m benchmarks.latent_diffusion [--vae-minutes M] [--prior-minutes M] [--pixel RUN]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.budget import trained_for
from scratchgen import data, train, viz
from scratchgen.evaluation import score_samples

# beta 0.1: the paper's autoencoder has a slight KL penalty, so that its codes keep detail and
# spread beyond N(0, I) (the tutorial's digits: prior FID 3.3, latent diffusion 1.3; with
# beta = 1 the prior fits the codes and the two are level)
VAE = {"arch": "conv", "latent": 16, "filters": 32, "beta": 0.1, "eval_samples": 1}
VAE_TRAINING = {"batch_size": 64, "lr": 1e-3, "eval_every": 10**9, "checkpoint_every": 250}
PRIOR = {"hidden": [256, 256, 256], "embedding": 64}
PRIOR_TRAINING = {"batch_size": 128, "lr": 1e-3, "schedule": "cosine", "warmup": 200,
                  "eval_every": 10**9, "checkpoint_every": 1000}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vae-minutes", type=float, default=10.0)
    parser.add_argument("--prior-minutes", type=float, default=5.0)
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--pixel", type=Path, default=None, help="a pixel-space ddpm run")
    parser.add_argument("--out", type=Path, default=Path("runs/latent-diffusion"))
    parser.add_argument("--figures", type=Path, default=Path("docs"))
    args = parser.parse_args()
    args.figures.mkdir(parents=True, exist_ok=True)
    dataset = data.load("mnist")
    n = args.samples
    vae, vae_trainer = trained_for(args.vae_minutes, "vae", dataset, VAE, VAE_TRAINING,
                                   args.out / "vae")  # fmt: skip
    vae.eval()
    model, trainer = trained_for(args.prior_minutes, "latent_diffusion", dataset,
                                 {**PRIOR, "autoencoder": str(args.out / "vae")},
                                 PRIOR_TRAINING, args.out / "prior")  # fmt: skip
    rows, pictures = [], []

    def score(label: str, draw: Callable[[np.random.Generator], np.ndarray],
              trained: list[tuple[int, float]]) -> None:  # fmt: skip
        """One row: ``draw``'s samples scored, with the (steps, seconds) of its training."""
        rng = np.random.default_rng(0)
        started = time.perf_counter()
        samples = draw(rng)
        seconds = time.perf_counter() - started
        scores = score_samples(samples, dataset, ["fid", "kid"], rng, progress=False)
        rows.append({"model": label, "sampling_seconds": round(seconds, 1),
                     "train_steps": [steps for steps, _ in trained],
                     "train_seconds": round(sum(s for _, s in trained)), **scores})  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
        pictures.append(samples[:16])

    stage_one = [(vae_trainer.step, vae_trainer.seconds)]
    score("VAE reconstructions of test images", lambda rng: vae.reconstruct(dataset.test[:n]),
          stage_one)  # fmt: skip
    score(
        "VAE prior N(0, I), decoded mean",
        lambda rng: vae.decode_mean(rng.standard_normal((n, VAE["latent"]))),
        stage_one,
    )
    both = stage_one + [(trainer.step, trainer.seconds)]
    with trainer.ema.applied(model):
        for sampler, steps in (("ancestral", None), ("ddim", 50)):
            score(f"latent diffusion, {sampler} {steps or 1000}",
                  lambda rng, s=sampler, k=steps: model.sample(n, rng, s, k), both)  # fmt: skip
    if args.pixel is not None:
        pixel, _ = train.load_run(args.pixel)
        state = json.loads((args.pixel / "trainer.json").read_text())
        score("pixel DDPM, ddim 50", lambda rng: pixel.sample(n, rng, "ddim", steps=50),
              [(state["step"], state["seconds"])])  # fmt: skip
    (args.out / "results.json").write_text(json.dumps(rows))
    title = "MNIST, a row per model: " + ", ".join(r["model"] for r in rows)
    viz.image_grid(np.concatenate(pictures), levels=dataset.info.levels, columns=16,
                   path=args.figures / "latent_diffusion_mnist.png", title=title)  # fmt: skip
    print(f"wrote {args.figures / 'latent_diffusion_mnist.png'}")


if __name__ == "__main__":
    main()
