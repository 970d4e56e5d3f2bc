"""Text to image, in small: a captioned DDPM (a one-layer caption encoder, cross-attention at
16 x 16) trained for a few seconds on one-object scenes of the shapes world, each captioned by
its colour alone ("a red shape"), then sampled under every colour at w = 0 and w = 3. The
world's own renderer draws the truth beside them, and an exact reader scores the samples: a
scene's colour is the palette colour nearest the mean of its bright pixels
(``text_to_image.png``). The full model, every attribute and the held-out pair are
``benchmarks/text_to_image.py``'s."""

from __future__ import annotations

import numpy as np

from scratchgen.tour.report import SectionReport
from scratchgen.tour.section import Section

# one level, attending at 16 x 16: of the small UNets tried, the one that learnt colours in
# seconds (14 s for 100 steps, 46% of colours right at w = 3; at 8 x 8, 150 steps read 39%)
NETWORK = dict(condition="caption", channels=16, multipliers=[1], attention=[16], groups=4,
               timesteps=100, noise_schedule="cosine", text_width=16, text_layers=1,
               text_heads=2, p_omit=0.0)  # fmt: skip


def colour_scenes(n: int, rng: np.random.Generator):
    """n one-object scenes and their colour-only captions."""
    from scratchgen.data import DataInfo, Dataset, shapes

    scenes = []
    while len(scenes) < n:
        objects = shapes.random_scene(rng)
        scenes.append(objects[:1])
    images = np.stack([shapes.render(s) for s in scenes]).astype(np.int64)
    captions = [f"a {s[0][1]} shape" for s in scenes]
    cut = n - 64
    return Dataset("shapes_colours", images[:cut], images[cut:], DataInfo((3, 16, 16),
                   "categorical", 256), extras={"train_captions": captions[:cut],
                   "test_captions": captions[cut:]})  # fmt: skip


def read_colour(images: np.ndarray) -> list[str]:
    """The palette colour nearest the mean of each image's pixels brighter than 100."""
    from scratchgen.data.shapes import COLOURS

    palette, names = np.array(list(COLOURS.values()), float), list(COLOURS)
    read = []
    for image in images.reshape(len(images), 3, -1).astype(float):
        bright = image[:, image.max(axis=0) > 100]
        mean = bright.mean(axis=1) if bright.size else np.zeros(3)
        read.append(names[int(np.argmin(((palette - mean) ** 2).sum(axis=1)))])
    return read


def run(report: SectionReport, seed: int, quick: bool) -> None:
    from scratchgen import models, train, viz
    from scratchgen.data import shapes

    data = colour_scenes(100 if quick else 500, np.random.default_rng(seed))
    steps = 5 if quick else 100
    model = models.create("ddpm", data.info, seed=seed, **NETWORK)
    train.fit(model, data, steps=steps, batch_size=32, lr=6e-3, seed=seed, eval_every=10**9,
              progress=False)  # fmt: skip
    colours = list(shapes.COLOURS)
    captions = [f"a {c} shape" for c in colours for _ in range(4)]
    rows, accuracy = [], {}
    for w in (0.0, 3.0):
        x = model.sample(len(captions), np.random.default_rng(seed), "ddim", steps=20,
                         caption=captions, guidance=w)  # fmt: skip
        accuracy[f"w {w:g}"] = float(
            np.mean([r == c.split()[1] for r, c in zip(read_colour(x), captions)])
        )
        rows.append(x)
    truth = np.stack([shapes.render([("circle", c, "large", 0.5, 0.5)]) for c in colours])
    report.metrics["text_to_image/colours"] = {"steps": steps, "colour_accuracy": accuracy,
                                               "chance": 1 / len(colours)}  # fmt: skip
    report.say(f"a captioned DDPM, {steps} steps on one-object scenes captioned by colour; "
               "the share of samples whose colour is the caption's, read exactly: "
               + ", ".join(f"{k} {v:.0%}" for k, v in accuracy.items())
               + f" (chance {1 / len(colours):.0%})")  # fmt: skip
    grid = np.concatenate(
        [
            truth,
            *[r.reshape(len(colours), 4, 3, 16, 16)[:, 0] for r in rows],
            *[r.reshape(len(colours), 4, 3, 16, 16)[:, 1] for r in rows],
        ]
    )
    fig = viz.image_grid(grid, levels=256, columns=len(colours),
                         title="captions 'a <colour> shape', one colour per column: the "
                         "world's truth, then samples at w = 0, w = 3, w = 0, w = 3")  # fmt: skip
    report.figure(
        fig,
        "text_to_image.png",
        "A captioned DDPM's samples of 'a red shape', "
        "'a green shape', ...: guidance w = 0 and 3 under the world's own rendering",
    )


SECTION = Section(
    name="text_to_image",
    title="Text to image: captions by cross-attention",
    summary="A captioned DDPM on one-object shapes scenes, its colour read back exactly, at "
    "guidance w = 0 and 3.",
    tutorial="12_controllable_generation.py",
    budget=20,
    run=run,
)
