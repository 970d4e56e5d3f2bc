"""Inverse problems across the families: the results table of issue 21 (Song et al. 2021,
appendix I; Lugmayr et al. 2022; Chung et al. 2023).

On the shapes scenes and on MNIST, four measurements y = A x of test images x:

* ``half``: the top half seen, the bottom half to complete (``Inpaint``);
* ``centre``: everything but a centred box of half the side seen (``Inpaint``);
* ``colour``: the Rec. 601 luminance seen (``Colorize``; the shapes only, MNIST is grey);
* ``sr2``: the means of 2 x 2 blocks seen (``SuperResolve(2)``).

Each family completes what it can, the way it does so naturally:

* ``ddpm``, by the three ``scratchgen.inverse`` solvers (replacement, RePaint, DPS) on the chain
  respaced to ``RESPACED`` steps (Nichol & Dhariwal 2021, section 4), every measurement;
* ``pixelcnn``, by its ``given``/``mask`` route: exact for ``half`` (a raster prefix); for
  ``centre`` each free pixel sees the pixels before it only, not the seen ones after the box;
* ``vae``, a conditional VAE of the bottom half given the top (``half`` only);
* ``realnvp``, the most probable completion under the exact density (``map_complete``, Adam on
  the free pixels), a baseline and not a sample (``half`` and ``centre``);
* ``no model``: the measurement as an image (a grey box, a grey image, flat blocks).

Every row completes the same ``--samples`` test images (those after the first ``--samples``,
which FID compares with) and reports the consistency error (the RMS of A x - y per measured
value, in [0, 1] units: zero for the replacement methods by construction, up to the final
clip and the rounding to the data's levels), the RMS error
against the truth (one completion of a posterior is not the truth; this is the spread of the
answers as much as their error), FID against the first test images and, on the shapes, the
attribute accuracy: the completions read back by the scratchgen shapes network, against the
true scenes' captions (``metrics.caption_accuracy``). The MNIST DDPM is the guidance table's
(``benchmarks.guidance``), completing under its null class.

Figure: ``docs/inverse_problems_<data>.png``. The run folders keep the checkpoints.
Run: python -m benchmarks.inverse_problems [--data shapes|mnist] [--train-only]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.budget import trained_for
from benchmarks.diffusion import MNIST_TRAINING
from benchmarks.guidance import CONDITIONAL as MNIST_DDPM
from scratchgen import data, inverse, metrics, viz
from scratchgen.data.dataset import DataInfo, Dataset

TRAINING = {"batch_size": 64, "lr": 1e-3, "schedule": "cosine", "warmup": 200,
            "eval_every": 10**9, "checkpoint_every": 250, "clip": 100.0}  # fmt: skip
# family: (registered name, settings, minutes, whether it models [0, 1] values)
FAMILIES = {
    "ddpm": ("ddpm", {"channels": 32, "multipliers": [1, 2, 2], "groups": 8, "res_blocks": 1},
             15.0, False),
    # 36 filters, not 32: a PixelCNN's features split into three colour groups on the shapes
    "pixelcnn": ("pixelcnn", {"filters": 36, "layers": 5, "kernel_size": 5}, 6.0, False),
    "vae": ("vae", {"latent": 32, "arch": "conv", "filters": 32, "hidden": [256],
                    "inpaint": "top", "eval_samples": 10}, 5.0, True),
    "realnvp": ("realnvp", {"couplings": 3, "scales": 2, "filters": 32, "blocks": 1}, 6.0, False),
}  # fmt: skip
TASKS = {"shapes": ("half", "centre", "colour", "sr2"), "mnist": ("half", "centre", "sr2")}
# which family completes which measurement (the PixelCNN and the flow through a pixel mask)
CAN = {"ddpm": ("half", "centre", "colour", "sr2"), "pixelcnn": ("half", "centre"),
       "vae": ("half",), "realnvp": ("half", "centre")}  # fmt: skip
RESPACED = 250  # the RePaint paper's setting: 250 levels, 10 resamplings of jumps of 10
ZETA = 0.3  # the DPS step on the 250-level chain: of 0.3, 1 and 3 the most consistent (README)
SOLVERS = ("replacement", "repaint", "dps")
INPAINTING = ("half", "centre")  # the tasks RePaint is for
FIGURE_IMAGES = 6


def continuous(dataset: Dataset) -> Dataset:
    """The images as values in [0, 1], for the VAE's Gaussian decoder."""
    top = dataset.info.levels - 1
    return Dataset(f"{dataset.name}_continuous", dataset.train / top, dataset.test / top,
                   DataInfo(dataset.info.shape, "continuous"))  # fmt: skip


def trained(family: str, dataset: Dataset, out: Path) -> tuple[Any, Any]:
    """A family's model on ``dataset``, trained for its minutes into ``out / family`` (the
    MNIST DDPM: the guidance table's run, beside this one's)."""
    name, settings, minutes, unit = FAMILIES[family]
    if family == "ddpm" and dataset.name == "mnist":
        return trained_for(30.0, "ddpm", dataset, MNIST_DDPM, MNIST_TRAINING,
                           out.parent / "guidance-mnist" / "ddpm")  # fmt: skip
    return trained_for(minutes, name, continuous(dataset) if unit else dataset, settings,
                       TRAINING, out / family)  # fmt: skip


def operator(task: str, shape: tuple[int, ...]) -> inverse.LinearOperator:
    """The measurement of a task on images of ``shape`` (C, H, W)."""
    _, H, W = shape
    if task == "colour":
        return inverse.Colorize()
    if task == "sr2":
        return inverse.SuperResolve(2)
    mask = np.ones((1, H, W), bool)
    if task == "half":
        mask[:, H // 2 :] = False
    else:  # the centred box of half the side
        mask[:, H // 4 : H // 4 + H // 2, W // 4 : W // 4 + W // 2] = False
    return inverse.Inpaint(mask)


def no_model(A: inverse.LinearOperator, x: np.ndarray, top: int) -> np.ndarray:
    """The measurement read as an image, consistent with it: the seen pixels over mid grey,
    the luminance in all three channels, each low-resolution pixel as a flat block."""
    y = A.apply(x)
    if isinstance(A, inverse.Inpaint):
        return np.where(np.broadcast_to(A.mask, x.shape[1:]), y, top / 2)
    if isinstance(A, inverse.Colorize):  # the weights sum to 1: grey R = G = B = y has A x = y
        return np.repeat(y, x.shape[1], axis=1)
    return np.repeat(np.repeat(y, A.factor, axis=2), A.factor, axis=3)


def complete(family: str, solver: str, model: Any, trainer: Any, A: inverse.LinearOperator,
             x: np.ndarray, top: int, rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """Completions of the measurements A x of test images x (n, C, H, W), in the data's
    levels, the way ``family`` does it."""
    if family == "no model":
        return no_model(A, x, top)
    if family == "ddpm":
        with trainer.ema.applied(model):
            return model.complete(A, A.apply(x), rng, solver, ZETA, steps=RESPACED)
    mask = np.broadcast_to(A.mask, x.shape[1:])  # the other families complete pixel masks
    if family == "pixelcnn":
        return model.sample(len(x), rng, given=x, mask=mask)
    if family == "realnvp":
        return model.map_complete(x, mask, rng)
    if not np.array_equal(model.observed, mask):  # the VAE: one z from the prior per image
        raise ValueError("the VAE completes the bottom half given the top only")
    given = x / top
    image = model.decode_mean(model.prior().sample((len(x),), rng=rng), given)
    return np.where(mask, given, image) * top


class Scorer:
    """The scores of completions of the test images x: the consistency error (the RMS of
    A x' - y per measured value) and the error against the truth in [0, 1] units, FID against
    the first len(x) test images and, on the shapes, the attribute accuracy of the completions
    read back against the true scenes' captions. The feature network is loaded once."""

    def __init__(self, dataset: Dataset, x: np.ndarray, captions: list[str] | None) -> None:
        self.network = metrics.feature_network(dataset.name, progress=False)
        self.real = self.network.features(dataset.test[: len(x)])
        self.top, self.x, self.captions = dataset.info.levels - 1, x, captions

    def __call__(self, A: inverse.LinearOperator, completed: np.ndarray) -> dict[str, float]:
        u, truth = completed / self.top, self.x / self.top
        measured = int(A.observed(u.shape).sum())  # the rank of A: the values y fixes
        residual = A.residual(u, A.apply(truth))
        row = {"consistency_rms": float(np.sqrt(np.mean(residual**2) / measured)),
               "error_rms": float(np.sqrt(np.mean((u - truth) ** 2))),
               "fid": metrics.fid(self.real, self.network.features(completed))}  # fmt: skip
        if self.captions is not None:
            accuracy = metrics.caption_accuracy(self.captions, self.network.predict(completed))
            row.update({f"attributes_{k}": v for k, v in accuracy.items() if k != "count"})
        return row


def methods(families: list[str], task: str) -> list[tuple[str, str]]:
    """(family, solver) of each row of a task: no model first, then each family that can."""
    rows = [("no model", "")]
    for family in families:
        if task in CAN[family]:
            solvers = SOLVERS if family == "ddpm" else ("",)
            rows += [(family, s) for s in solvers if s != "repaint" or task in INPAINTING]
    return rows


def evaluate(dataset: Dataset, families: list[str], n: int, out: Path, folder: Path) -> None:
    top = dataset.info.levels - 1
    x = dataset.test[n : 2 * n].astype(np.float64)  # FID compares with test[:n]
    captions = dataset.extras["test_captions"][n : 2 * n] if dataset.name == "shapes" else None
    built = {family: trained(family, dataset, out) for family in families}
    score = Scorer(dataset, x, captions)
    everything = inverse.Inpaint(np.ones(x.shape[1:], bool))
    results = [{"data": dataset.name, "task": "", "method": "truth", "samples": n,
                **score(everything, x)}]  # fmt: skip
    print(json.dumps(results[0]), flush=True)
    figure = {}
    for task in TASKS[dataset.name]:
        A = operator(task, x.shape[1:])
        for family, solver in methods(families, task):
            model, trainer = built.get(family, (None, None))
            if model is not None:
                model.eval()
            started = time.perf_counter()
            completed = complete(family, solver, model, trainer, A, x, top,
                                 np.random.default_rng(0))  # fmt: skip
            seconds = round(time.perf_counter() - started, 1)
            label = f"{family} {solver}".strip()
            results.append({"data": dataset.name, "task": task, "method": label, "samples": n,
                            **score(A, completed), "seconds": seconds})  # fmt: skip
            print(json.dumps(results[-1]), flush=True)
            figure.setdefault(task, []).append((label, completed[:FIGURE_IMAGES]))
        (out / "results.json").write_text(json.dumps(results))
    _figure(figure, x[:FIGURE_IMAGES], top, folder / f"inverse_problems_{dataset.name}.png")


def _figure(panels: dict[str, list], truth: np.ndarray, top: int, path: Path) -> None:
    """One panel a task: a row of each method's completions of the same test images, the
    measurement as a picture first and the truth last."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 4.5))
    for ax, (task, rows) in zip(np.atleast_1d(axes), panels.items()):
        rows = [*rows, ("truth", truth)]
        canvas = viz.tile(np.concatenate([images for _, images in rows]), top + 1, len(truth))
        ax.imshow(canvas, interpolation="nearest")
        height = canvas.shape[0] / len(rows)
        ax.set_yticks([(i + 0.5) * height for i in range(len(rows))], [r for r, _ in rows])
        ax.set_xticks([])
        ax.set_title(task)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=tuple(TASKS), default="shapes")
    parser.add_argument("--families", nargs="+", choices=tuple(FAMILIES), default=list(FAMILIES))
    parser.add_argument("--samples", type=int, default=128, help="test images completed a row")
    parser.add_argument("--train-only", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("runs"))
    parser.add_argument("--figures", type=Path, default=Path("docs"))
    args = parser.parse_args()
    dataset = data.load(args.data)
    out = args.out / f"inverse-{args.data}"
    if args.train_only:
        for family in args.families:
            trained(family, dataset, out)
        return
    args.figures.mkdir(parents=True, exist_ok=True)
    evaluate(dataset, args.families, args.samples, out, args.figures)


if __name__ == "__main__":
    main()
