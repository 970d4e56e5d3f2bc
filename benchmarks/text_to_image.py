"""Text to image on the shapes scenes: the results table of issue 21 (GLIDE-style
classifier-free guidance on captions, Nichol et al. 2022; Ho & Salimans 2022).

One caption-conditioned DDPM (a 32-channel UNet attending to a jointly trained two-layer
caption encoder at 8 x 8 and 4 x 4) is trained for ``--minutes`` on the shapes scenes less
every scene with a red triangle in it: that colour-shape pair is held out, never seen in
training, neither drawn nor said. Each row draws ``--samples`` scenes by DDIM in 50 steps from
the EMA weights, under the first test captions, and reads them back with the scratchgen shapes
network (inverse graphics): the **caption accuracy**, the fraction of samples whose objects
match what their caption says (and per attribute), beside FID, KID, precision and recall
against as many test scenes.

* ``real``: test scenes (not those the scores compare with) under their own captions, the
  ceiling the reader allows (it misreads some real scenes: its own test accuracy);
* ``w``: classifier-free guidance at weight w, captions of the pairs seen in training;
* ``partial w``: the same captions with each attribute left unsaid with probability 1/2;
* ``held out w``: the test captions that name a red triangle;
* ``empty``: the empty caption (the null condition): what the model draws unprompted.

Figure: ``docs/text_to_image_shapes.png`` (captions down, guidance weights across). The run
folder (``--out``) keeps the checkpoint: run again to sample without training.
Run: python -m benchmarks.text_to_image [--minutes M] [--samples N]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks.budget import trained_for
from scratchgen import data, metrics, viz
from scratchgen.data import captions as text
from scratchgen.data.dataset import Dataset
from scratchgen.evaluation import score_samples

HELD_OUT = ("triangle", "red")  # a (kind, colour) pair no training scene shows
NETWORK = {"condition": "caption", "channels": 32, "multipliers": [1, 2, 2], "groups": 8,
           "res_blocks": 1}  # fmt: skip
TRAINING = {"batch_size": 64, "lr": 1e-3, "schedule": "cosine", "warmup": 200,
            "eval_every": 10**9, "checkpoint_every": 250}  # fmt: skip
WEIGHTS = (0.0, 1.0, 3.0, 6.0)
DDIM_STEPS = 50


def _names_held_out(caption: str) -> bool:
    return any((p.kind, p.colour) == HELD_OUT for p in text.parse(caption))


def held_out_shapes() -> Dataset:
    """The shapes scenes without any training scene that shows the held-out pair."""
    shapes = data.load("shapes")
    keep = np.array([not _names_held_out(c) for c in shapes.extras["train_captions"]])
    extras = {
        **shapes.extras,
        "train_scenes": [s for s, k in zip(shapes.extras["train_scenes"], keep) if k],
        "train_captions": [c for c, k in zip(shapes.extras["train_captions"], keep) if k],
    }
    return Dataset("shapes_held_out", shapes.train[keep], shapes.test, shapes.info,
                   shapes.train_labels[keep], shapes.test_labels, extras=extras)  # fmt: skip


def trained(minutes: float, out: Path):
    return trained_for(minutes, "ddpm", held_out_shapes(), NETWORK, TRAINING, out)


def _captions(dataset: Dataset, n: int, row: str, rng: np.random.Generator) -> list[str]:
    test = dataset.extras["test_captions"]
    if row == "real":  # the test scenes after the n that the scores compare with
        return test[n : 2 * n]
    if row == "empty":
        return [""] * n
    if row.startswith("held out"):
        return [c for c in test if _names_held_out(c)][:n]
    seen = [c for c in test if not _names_held_out(c)][:n]
    return [text.partial(c, rng, 0.5) for c in seen] if row.startswith("partial") else seen


ROWS = ("real", *(f"w {w:g}" for w in WEIGHTS), "partial 3", "held out 0", "held out 3", "empty")


def evaluate(model, trainer, n: int, out: Path, folder: Path) -> None:
    dataset = data.load("shapes")  # the test split is the held-out data's too
    reader = metrics.feature_network("shapes", progress=False)
    rows = []
    with trainer.ema.applied(model):
        for row in ROWS:
            rng = np.random.default_rng(0)
            captions = _captions(dataset, n, row, rng)
            started = time.perf_counter()
            if row == "real":
                samples = dataset.test[n : n + len(captions)]
            else:
                weight = float(row.split()[-1]) if row != "empty" else 0.0
                samples = model.sample(len(captions), rng, "ddim", steps=DDIM_STEPS,
                                       caption=captions, guidance=weight)  # fmt: skip
            seconds = time.perf_counter() - started
            scores = score_samples(samples, dataset, ["fid", "kid", "pr"], rng, progress=False)
            accuracy = metrics.caption_accuracy(captions, reader.predict(samples))
            rows.append({"row": row, "samples": len(captions), **accuracy, **scores,
                         "sampling_seconds": round(seconds, 1), "train_steps": trainer.step,
                         "train_seconds": round(trainer.seconds)})  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
    (out / "results.json").write_text(json.dumps(rows))
    _figure(model, trainer, dataset, folder / "text_to_image_shapes.png")


FIGURE_CAPTIONS = ("a large red circle at the centre", "a small blue square at the top left",
                   "a green triangle and a yellow circle", "a white shape at the bottom right",
                   "a large red triangle")  # fmt: skip


def _figure(model, trainer, dataset: Dataset, path: Path) -> None:
    pictures = []
    with trainer.ema.applied(model):
        for caption in FIGURE_CAPTIONS:
            for w in WEIGHTS:
                pictures.append(
                    model.sample(
                        4,
                        np.random.default_rng(1),
                        "ddim",
                        steps=DDIM_STEPS,
                        caption=caption,
                        guidance=w,
                    )
                )
    title = ("rows: " + " | ".join(FIGURE_CAPTIONS) + "; four each at w = "
             + ", ".join(f"{w:g}" for w in WEIGHTS))  # fmt: skip
    viz.image_grid(np.concatenate(pictures), levels=dataset.info.levels,
                   columns=4 * len(WEIGHTS), path=path, title=title)  # fmt: skip
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=18.0)
    parser.add_argument("--samples", type=int, default=128, help="samples per row")
    parser.add_argument("--out", type=Path, default=Path("runs/text-to-image-shapes"))
    parser.add_argument("--figures", type=Path, default=Path("docs"))
    args = parser.parse_args()
    args.figures.mkdir(parents=True, exist_ok=True)
    model, trainer = trained(args.minutes, args.out)
    evaluate(model, trainer, args.samples, args.out, args.figures)


if __name__ == "__main__":
    main()
