"""GANs: the results tables of issue 17.

* ``modes``: the mode-collapse benchmark of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et
  al. 2018) on the ring of 8 Gaussians (``ring8``: radius 1, std 0.01) and the 5 x 5 grid
  (``grid25``: std 0.05): every objective, and PacGAN2 / PacGAN4 (the non-saturating loss
  with 2 or 4 samples packed into the discriminator's input), over seeds. 2500 samples each;
  a sample is of high quality within 3 standard deviations of its nearest mode, a mode is
  captured when it is the nearest of at least one such sample; the reverse KL is that of the
  captured modes' histogram from the uniform one (``metrics.mode_coverage``). Each row is
  printed as JSON, and the mean and standard error over seeds at the end.
* ``cyclegan``: CycleGAN between the red and the blue shapes' scenes (``shapes_red_blue``),
  trained unpaired; each red test scene's translation read by the shapes' feature network
  (``metrics.feature_network("shapes")``, which names each object's kind, colour, size and
  place): how often it keeps the scene (count, kinds, sizes, places), how often it turns every
  object blue, and both, beside the same reading of the true blue scenes (the reader's own
  ceiling) and of the untranslated red ones; ``docs/gans_cyclegan.png``.
* ``images``: DCGAN (non-saturating) and WGAN-GP on the 8x8 digits and on MNIST, and the
  class-conditional DCGAN (projection discriminator): FID, KID, precision and recall with the
  scratchgen feature network of each dataset on 2000 samples against the test set, the
  conditional model's class accuracy (its samples, asked for class y, classified by the same
  network), and ``docs/gans_<data>.png``.
* ``bigan``: BiGAN on the digits and MNIST: its reconstructions G(E(x)) of test images
  (``docs/gans_bigan_<data>.png``), and how well its codes E(x) classify: a logistic
  regression fitted on the training set's codes, scored on the test set's, beside the same on
  the raw pixels and on the codes of an untrained encoder.
* ``bound``: each f-GAN's variational bound E_P g_f(V) - E_Q f*(g_f(V)) over training on
  eight Gaussians (the negative of its discriminator's logged loss, on each training batch),
  ``docs/gans_fgan_bound.png``: the critic's current lower bound on D_f(P_data || P_G).
* ``gif``: the samples of minimax, non-saturating and WGAN-GP generators over training on the
  ring and the grid, side by side (docs/gans_<data>.gif), from the same fixed noise.

The players of every row: MLPs 2 -> 128 -> 128 -> 128 -> 2 (LeakyReLU(0.2) in the
discriminator, ReLU in the generator), latent dimension 2, batch 256, both players' learning
rate 1e-3 (each objective's own optimizer otherwise: Adam betas (0.5, 0.999), WGAN-GP's (0.5,
0.9), WGAN's RMSprop with clipping at 0.01), n_critic 5 for the two WGANs, 1 elsewhere. The
published models are larger (PacGAN: generator 4 x 400 units with batch norm, discriminator 3 x
200 maxout units) and train longer.

Run: python -m benchmarks.gans modes|cyclegan|gif [--steps N] [--seeds K]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from scratchgen import data, models, train, viz
from scratchgen.metrics import mode_coverage

LOSSES = ("minimax", "ns", "kl", "reverse_kl", "js", "pearson", "hellinger", "wgan", "wgan_gp",
          "hinge", "lsgan")  # fmt: skip
ROWS = {**{loss: {"loss": loss} for loss in LOSSES}, "PacGAN2 (ns)": {"loss": "ns", "pack": 2},
        "PacGAN4 (ns)": {"loss": "ns", "pack": 4}}  # fmt: skip
PLAYERS = {"latent": 2, "hidden": [128, 128, 128]}
TRAINING = {"batch_size": 256, "lr_d": 1e-3, "lr_g": 1e-3, "eval_every": 10**9}
SAMPLES = 2500
# The published rows (PacGAN table 1; VEEGAN table 1): modes, % high quality, reverse KL
PUBLISHED = {
    "ring8": {"GAN (PacGAN table 1)": (6.3, 98.2, 0.45), "PacGAN2": (7.9, 95.6, 0.07),
              "GAN (VEEGAN table 1)": (1, 99.3, None), "VEEGAN": (8, 52.9, None)},
    "grid25": {"GAN (PacGAN table 1)": (17.3, 94.8, 0.70), "PacGAN4": (24.8, 93.6, 0.04),
               "GAN (VEEGAN table 1)": (3.3, 0.5, None), "VEEGAN": (24.6, 40.0, None)},
}  # fmt: skip


def _print(row: dict) -> None:
    print(json.dumps(row), flush=True)


def _fit(name: str, settings: dict, steps: int, seed: int):
    dataset = data.load(name)
    model = models.create("gan", dataset.info, seed=seed, **PLAYERS, **settings)
    fitted = train.fit(model, dataset, progress=False, steps=steps, seed=seed, **TRAINING)
    return dataset, model, fitted


def modes(steps: int, seeds: range, names: list[str], labels: list[str]) -> None:
    results: dict[tuple[str, str], list[dict]] = {}
    for name in names:
        for label in labels:
            settings = ROWS[label]
            for seed in seeds:
                try:
                    dataset, model, fitted = _fit(name, settings, steps, seed)
                except train.TrainingDiverged as stop:  # a result too: the objective's
                    _print({"data": name, "model": label, "seed": seed, "diverged": str(stop)})
                    results.setdefault((name, label), []).append({"diverged": True})
                    continue
                centres, std = dataset.extras["modes"]
                scores = mode_coverage(model.sample(SAMPLES, np.random.default_rng(seed)),
                                       centres, std)  # fmt: skip
                row = {"data": name, "model": label, "seed": seed, "modes": int(scores["modes"]),
                       "high_quality": float(scores["high_quality"]),
                       "reverse_kl": float(scores["reverse_kl"]),
                       "seconds": fitted["seconds"]}  # fmt: skip
                results.setdefault((name, label), []).append(row)
                _print(row)
    for (name, label), all_rows in results.items():
        rows = [r for r in all_rows if not r.get("diverged")]
        summary = {"data": name, "model": label, "seeds": len(all_rows), "steps": steps,
                   "diverged": len(all_rows) - len(rows)}  # fmt: skip
        for key in ("modes", "high_quality", "reverse_kl", "seconds"):
            if not rows:
                continue
            values = np.array([r[key] for r in rows], dtype=float)
            se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else float("nan")
            summary[key] = [float(values.mean()), float(se)]
        _print(summary)


def _colour_swap(network, images: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """The fractions of scenes read as the truth in geometry (every head but the colours), in
    colour (the colour heads), and in both; heads the truth leaves unknown (-1) are skipped."""
    from scratchgen.data import shapes

    read = network.classify(images)
    colour = np.array(["colour" in head for head in shapes.ATTRIBUTES])
    right = (read == truth) | (truth < 0)
    return {"geometry": float(np.mean(np.all(right[:, ~colour], axis=1))),
            "colour": float(np.mean(np.all(right[:, colour], axis=1))),
            "both": float(np.mean(np.all(right, axis=1)))}  # fmt: skip


def cyclegan(steps: int, folder: Path) -> None:
    from scratchgen.data import shapes
    from scratchgen.metrics import feature_network

    dataset = data.load("shapes_red_blue")
    model = models.create("cyclegan", dataset.info)
    fitted = train.fit(model, dataset, progress=False, steps=steps, batch_size=32,
                       eval_every=10**9, eval_batch=250)  # fmt: skip
    network = feature_network("shapes")
    red, blue = dataset.test[:, :3], dataset.test[:, 3:]
    truth = shapes.scene_attributes([shapes.recoloured(s, "blue")
                                     for s in dataset.extras["test_scenes"]])  # fmt: skip
    translated = model.translate(red)
    for label, images in (("CycleGAN G(red)", translated), ("the true blue scenes", blue),
                          ("the red scenes, untranslated", red)):  # fmt: skip
        _print({"images": label, **_colour_swap(network, images, truth), "steps": steps,
                "seconds": fitted["seconds"]})  # fmt: skip
    rows = np.concatenate([red[:8], translated[:8], blue[:8], model.translate(blue[:8], "b_to_a")])
    viz.image_grid(rows, levels=256, columns=8, path=folder / "gans_cyclegan.png",
                   title="red scenes, their translations, the true blue ones, F(blue)")  # fmt: skip
    print(f"wrote {folder / 'gans_cyclegan.png'}")


IMAGE_ROWS = {  # label: settings
    "DCGAN (ns)": {"loss": "ns"},
    "WGAN-GP": {"loss": "wgan_gp"},
    "conditional DCGAN (ns, projection)": {"loss": "ns", "num_classes": 10},
}
IMAGE_PLAYERS = {"digits": {"filters": 32, "latent": 32}, "mnist": {"filters": 64, "latent": 64}}


def images(steps: int, folder: Path) -> None:
    from scratchgen.evaluation import evaluate_model
    from scratchgen.metrics import feature_network

    for name in ("digits", "mnist"):
        dataset = data.load(name)
        network = feature_network(name)
        pictures = []
        for label, settings in IMAGE_ROWS.items():
            model = models.create("gan", dataset.info, **IMAGE_PLAYERS[name], **settings)
            fitted = train.fit(model, dataset, progress=False, steps=steps, batch_size=64,
                               eval_every=10**9)  # fmt: skip
            scores = evaluate_model(model, dataset, ["fid", "kid", "pr"], n=2000,
                                    rng=np.random.default_rng(0), progress=False)  # fmt: skip
            row = {"data": name, "model": label, "steps": steps, "seconds": fitted["seconds"],
                   **scores}  # fmt: skip
            if model.conditional:
                y = np.arange(2000) % 10
                asked = model.sample(2000, np.random.default_rng(1), y=y)
                row["class_accuracy"] = float(np.mean(network.classify(asked) == y))
            _print(row)
            y = np.arange(40) // 4 if model.conditional else None
            pictures.append(model.sample(40, np.random.default_rng(2), y=y))
        levels = dataset.info.levels
        viz.image_grid(np.concatenate(pictures), levels=levels, columns=20,
                       path=folder / f"gans_{name}.png",
                       title=f"{name}: " + "; ".join(IMAGE_ROWS) + " (2 rows each)")  # fmt: skip
        print(f"wrote {folder / f'gans_{name}.png'}")


def _linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                  test_y: np.ndarray) -> float:  # fmt: skip
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scale = StandardScaler().fit(train_x)
    probe = LogisticRegression(max_iter=2000).fit(scale.transform(train_x), train_y)
    return float(probe.score(scale.transform(test_x), test_y))


def bigan(steps: int, folder: Path) -> None:
    for name in ("digits", "mnist"):
        dataset = data.load(name)
        train_x, test_x = dataset.train[:10000], dataset.test[:2000]
        train_y, test_y = dataset.train_labels[:10000], dataset.test_labels[:2000]
        model = models.create("bigan", dataset.info, **IMAGE_PLAYERS[name])
        untrained = model.encode(train_x), model.encode(test_x)
        fitted = train.fit(model, dataset, progress=False, steps=steps, batch_size=64,
                           eval_every=10**9)  # fmt: skip
        flat = (train_x.reshape(len(train_x), -1), test_x.reshape(len(test_x), -1))
        row = {"data": name, "steps": steps, "seconds": fitted["seconds"],
               "probe_bigan_codes": _linear_probe(model.encode(train_x), train_y,
                                                  model.encode(test_x), test_y),
               "probe_untrained_codes": _linear_probe(untrained[0], train_y, untrained[1],
                                                      test_y),
               "probe_pixels": _linear_probe(flat[0], train_y, flat[1], test_y)}  # fmt: skip
        _print(row)
        shown = test_x[:20]
        viz.image_grid(np.concatenate([shown, model.reconstruct(shown)]),
                       levels=dataset.info.levels, columns=20,
                       path=folder / f"gans_bigan_{name}.png",
                       title=f"{name}: test images (top), BiGAN's G(E(x)) (bottom)")  # fmt: skip


F_GANS = ("kl", "reverse_kl", "js", "pearson", "hellinger")


def bound(steps: int, folder: Path) -> None:
    import matplotlib.pyplot as plt

    dataset = data.load("eight_gaussians")
    fig, axes = plt.subplots(1, len(F_GANS), figsize=(3.2 * len(F_GANS), 3.2), sharex=True)
    for ax, loss in zip(axes, F_GANS):
        model = models.create("gan", dataset.info, loss=loss, **PLAYERS)
        config = train.TrainConfig(steps=steps, log_every=25, **TRAINING)
        trainer = train.Trainer(model, dataset, config, progress=False)
        try:
            trainer.fit()
        except train.TrainingDiverged as stop:
            _print({"loss": loss, "diverged": str(stop)})
        history = [(r["step"], -r["loss_discriminator"]) for r in trainer.history
                   if "loss_discriminator" in r]  # fmt: skip
        step, value = (np.array(column) for column in zip(*history))
        smooth = np.convolve(value, np.ones(10) / 10, mode="valid")  # 10 logged batches
        _print({"loss": loss, "steps": trainer.step, "bound_last_10": float(smooth[-1])})
        ax.plot(step, value, lw=0.5, alpha=0.4)
        ax.plot(step[9:], smooth, lw=1.5)
        ax.axhline(0.0, color="grey", lw=0.5)
        low, high = np.percentile(value, [2, 98])
        ax.set_ylim(min(low, -0.05), high)
        ax.set_title(loss)
        ax.set_xlabel("training step")
    axes[0].set_ylabel("E_P g_f(V) - E_Q f*(g_f(V))")
    fig.suptitle("f-GANs on eight Gaussians: the critic's lower bound on D_f(data || G), per "
                 "batch and its running mean over 10")  # fmt: skip
    fig.tight_layout()
    fig.savefig(folder / "gans_fgan_bound.png", dpi=110)
    print(f"wrote {folder / 'gans_fgan_bound.png'}")


GIF_LOSSES = ("minimax", "ns", "wgan_gp")


def gif(steps: int, folder: Path, frames: int = 40) -> None:
    """Samples from fixed noise every steps / frames steps, the three objectives side by
    side, for each of the two mixtures."""
    for name, extent in (("ring8", (-1.5, 1.5, -1.5, 1.5)), ("grid25", (-5.5, 5.5, -5.5, 5.5))):
        dataset, panels, titles = data.load(name), {}, []
        for loss in GIF_LOSSES:
            model = models.create("gan", dataset.info, loss=loss, **PLAYERS)
            config = train.TrainConfig(steps=steps, **TRAINING)
            trainer = train.Trainer(model, dataset, config, progress=False)
            shots, titles = [], []
            for k in range(1, frames + 1):
                trainer.config.steps = k * steps // frames
                trainer.fit()
                shots.append(model.sample(1000, np.random.default_rng(0)))
                titles.append(f"{name}: training step {trainer.step}")
            panels[loss] = shots
        viz.trajectory_gif(panels, folder / f"gans_{name}.gif", fps=6, extent=extent,
                           titles=titles)  # fmt: skip
        print(f"wrote {folder / f'gans_{name}.gif'}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gans")
    parser.add_argument("table", choices=["modes", "cyclegan", "images", "bigan", "bound", "gif"])
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0, help="modes: seeds from this one")
    parser.add_argument("--figures", type=Path, default=Path("docs"))
    parser.add_argument("--data", nargs="+", choices=["ring8", "grid25"],
                        default=["ring8", "grid25"], help="modes: the mixtures")  # fmt: skip
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS),
                        help="modes: the objectives (rows of the table)")  # fmt: skip
    args = parser.parse_args()
    if args.table == "modes":
        modes(
            args.steps, range(args.first_seed, args.first_seed + args.seeds), args.data, args.rows
        )
    elif args.table == "cyclegan":
        cyclegan(args.steps, args.figures)
    elif args.table == "images":
        images(args.steps, args.figures)
    elif args.table == "bigan":
        bigan(args.steps, args.figures)
    elif args.table == "bound":
        bound(args.steps, args.figures)
    else:
        gif(args.steps, args.figures)


if __name__ == "__main__":
    main()
