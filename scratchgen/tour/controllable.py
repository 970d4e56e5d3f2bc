"""Controllable generation: a class-conditional DDPM on the eight Gaussians labelled by their
mode, sampled by classifier-free guidance at w = 0 and 3 and by its null class; the null
class steered by a noisy classifier instead; and with a correlated Gaussian's exact eps,
replacement, RePaint and DPS completing x2 from x1 = 2 against the exact conditional
(``controllable.png``)."""

from __future__ import annotations

import numpy as np

from scratchgen.tour.report import SectionReport
from scratchgen.tour.section import Section, dataset


def _labelled_eight_gaussians():
    from scratchgen.data import toy2d
    from scratchgen.data.dataset import Dataset

    toy = dataset("eight_gaussians")
    centres = np.asarray(toy2d.MODES["eight_gaussians"][0])

    def mode(x: np.ndarray) -> np.ndarray:
        return np.argmin(((x[:, None] - centres[None]) ** 2).sum(-1), axis=1)

    labelled = Dataset("eight_gaussians_labelled", toy.train, toy.test, toy.info,
                       mode(toy.train), mode(toy.test))  # fmt: skip
    return labelled, mode


def inverse_check(rng: np.random.Generator, n: int) -> dict[str, tuple[float, float]]:
    """(mean, sd) of x2 given x1 = 2 under correlation 0.95, by each solver on the exact eps."""
    from scratchgen import diffusion, inverse
    from scratchgen.diffusion.targets import GaussianData

    data = GaussianData([0.0, 0.0], [[1.0, 0.95], [0.95, 1.0]])
    schedule, operator = diffusion.NoiseSchedule(), inverse.Inpaint([True, False])
    y, eps = np.tile([[2.0, 0.0]], (n, 1)), data.schedule_eps(schedule)
    drawn = {
        "replacement": inverse.impute(schedule, eps, (n, 2), rng, operator, y),
        "RePaint 10 x 10": inverse.repaint(schedule, eps, (n, 2), rng, operator, y),
        "DPS, zeta 0.1": inverse.dps(schedule, eps, data.schedule_eps_vjp(schedule), (n, 2), rng,
                                     operator, y, zeta=0.1),
    }  # fmt: skip
    return {name: (float(x[:, 1].mean()), float(x[:, 1].std())) for name, x in drawn.items()}


def run(report: SectionReport, seed: int, quick: bool) -> None:
    import matplotlib.pyplot as plt

    from scratchgen import models, train
    from scratchgen.models.diffusion import NoisyClassifier

    labelled, mode = _labelled_eight_gaussians()
    steps = 20 if quick else 1500
    fit = dict(steps=steps, batch_size=256, lr=3e-3, seed=seed, eval_every=10**9,
               progress=False)  # fmt: skip
    ddpm = models.create("ddpm", labelled.info, seed=seed, timesteps=100, hidden=[64, 64, 64],
                         num_classes=8, p_uncond=0.1)  # fmt: skip
    train.fit(ddpm, labelled, **fit)
    classifier = NoisyClassifier(labelled.info, num_classes=8, timesteps=100, hidden=[64, 64],
                                 seed=seed)  # fmt: skip
    train.fit(classifier, labelled, **fit)
    y = np.arange(800) % 8
    panels = {
        "the null class (unconditional)": ddpm.sample(800, np.random.default_rng(seed)),
        "classifier-free, w = 0": ddpm.sample(800, np.random.default_rng(seed), y=y),
        "classifier-free, w = 3": ddpm.sample(800, np.random.default_rng(seed), y=y,
                                              guidance=3.0),
        "null class + noisy classifier, s = 2": ddpm.sample(
            800, np.random.default_rng(seed), y=y, classifier=classifier, classifier_scale=2.0,
            unconditional=True),
    }  # fmt: skip
    purity = {name: float(np.mean(mode(x) == y)) for name, x in list(panels.items())[1:]}
    accuracy = classifier.accuracy_by_step(labelled.test[:2000], labelled.test_labels[:2000],
                                           [0, 50, 99], np.random.default_rng(seed))  # fmt: skip
    report.metrics["guidance/eight_gaussians"] = {"steps": steps, **purity,
                                                  "classifier_accuracy": accuracy}  # fmt: skip
    report.say(f"a class-conditional DDPM, {steps} steps on the eight Gaussians labelled by "
               "mode; the share of samples in the mode asked for: "
               + ", ".join(f"{k} {v:.1%}" for k, v in purity.items()))  # fmt: skip
    report.say("the noisy classifier's accuracy at steps 0, 50, 99: "
               + ", ".join(f"{v:.2f}" for v in accuracy.values())
               + " (chance 0.125: the noise erases the class)")  # fmt: skip

    completions = inverse_check(np.random.default_rng(seed), 500 if quick else 2000)
    report.metrics["inverse/correlated_gaussian"] = completions
    report.say(
        "x2 given x1 = 2 under correlation 0.95, exactly N(1.900, 0.312^2): "
        + ", ".join(f"{k} {m:.3f} +- {s:.3f}" for k, (m, s) in completions.items())
    )

    fig, axes = plt.subplots(1, 4, figsize=(16, 4.2))
    for ax, (name, x) in zip(axes, panels.items()):
        if name.startswith("the null"):
            ax.scatter(*x.T, s=2, c="grey")
        else:
            ax.scatter(*x.T, s=2, c=y, cmap="tab10")
        ax.set(title=name, xlim=(-4, 4), ylim=(-4, 4), xticks=[], yticks=[])
    fig.tight_layout()
    report.figure(fig, "controllable.png", "One conditional DDPM: its null class, classifier-free "
                  "guidance at w = 0 and 3 (colour: the label asked for), and its null class "
                  "guided by a noisy classifier")  # fmt: skip


SECTION = Section(
    name="controllable",
    title="Controllable generation: guidance and inverse problems",
    summary="A class-conditional DDPM with classifier-free guidance and a noisy classifier on "
    "the labelled eight Gaussians; replacement, RePaint and DPS against an exact conditional.",
    tutorial="12_controllable_generation.py",
    budget=20,
    run=run,
)
