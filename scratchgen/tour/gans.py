"""GANs: the minimax and non-saturating objectives and WGAN-GP on eight Gaussians, scored by the
mode-collapse protocol of VEEGAN and PacGAN (modes captured, samples within 3 standard
deviations of one), and a class-conditional DCGAN on the digits (``gans.png``). The protocol's
own ring (std 0.01) needs longer runs: ``python -m benchmarks.gans modes``."""

from __future__ import annotations

import numpy as np

from scratchgen.tour.report import SectionReport
from scratchgen.tour.section import Section, dataset

MIXTURE_LOSSES = {"minimax": "minimax", "ns": "non-saturating", "wgan_gp": "WGAN-GP"}


def run(report: SectionReport, seed: int, quick: bool) -> None:
    import matplotlib.pyplot as plt

    from scratchgen import models, train, viz
    from scratchgen.metrics import mode_coverage

    mixture = dataset("eight_gaussians")
    centres, std = mixture.extras["modes"]
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.3))
    for ax, (loss, label) in zip(axes, MIXTURE_LOSSES.items()):
        gan = models.create("gan", mixture.info, loss=loss, latent=2, hidden=[64, 64], seed=seed)
        steps = 10 if quick else (600 if loss == "wgan_gp" else 1500)
        train.fit(gan, mixture, progress=False, steps=steps, batch_size=256, lr_d=1e-3,
                  lr_g=1e-3, seed=seed, eval_every=10**9)  # fmt: skip
        samples = gan.sample(2500, np.random.default_rng(seed))
        scores = mode_coverage(samples, centres, std)
        report.metrics[f"gan_{loss}/eight_gaussians"] = {
            "steps": steps, "modes": int(scores["modes"]),
            "high_quality": float(scores["high_quality"]),
            "reverse_kl": float(scores["reverse_kl"])}  # fmt: skip
        report.say(
            f"{label} GAN, {steps} steps on eight Gaussians: {scores['modes']} of 8 modes, "
            f"{100 * scores['high_quality']:.1f}% of samples within 3 sd of a mode"
        )
        viz.scatter(samples, mixture.test[:2500], ax=ax, title=f"{label}: {scores['modes']} modes")
        ax.set_xlim(-3, 3)
        ax.set_ylim(-3, 3)

    digits = dataset("digits")
    dcgan = models.create("gan", digits.info, num_classes=10, filters=16, latent=16, seed=seed)
    steps = 10 if quick else 600
    train.fit(dcgan, digits, progress=False, steps=steps, batch_size=64, lr_d=5e-4, lr_g=5e-4,
              seed=seed, eval_every=10**9)  # fmt: skip
    samples = dcgan.sample(60, np.random.default_rng(seed), y=np.arange(60) // 6)
    axes[3].imshow(viz.tile(samples, 17, 6), interpolation="nearest")
    axes[3].set_title(f"conditional DCGAN, {steps} steps: rows of 0-9")
    axes[3].axis("off")
    report.say(
        f"A class-conditional DCGAN (projection discriminator) on the digits, {steps} "
        "steps: each row of the figure asks for one class"
    )
    fig.tight_layout()
    report.figure(fig, "gans.png", "Samples of three GAN objectives over the data (grey), "
                  "and a class-conditional DCGAN's digits, one class per row")  # fmt: skip


SECTION = Section(
    name="gans",
    title="GANs: minimax, non-saturating, WGAN-GP, conditional DCGAN",
    summary="Likelihood-free learning: three objectives on eight Gaussians, scored "
    "by modes captured and sample quality; a class-conditional DCGAN on the digits.",
    tutorial="08_gans.py",
    budget=45,
    run=run,
)
