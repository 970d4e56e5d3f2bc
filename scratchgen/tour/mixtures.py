"""Maximum likelihood: a Gaussian mixture fitted by the shared Trainer to four toy densities,
each scored by its exact KL gap, KL(p_data || p_model) = test NLL - H(p_data) (``gallery.png``).
"""

from __future__ import annotations

import autodiff as ad
from scratchgen.tour.report import SectionReport
from scratchgen.tour.section import Section, dataset


def run(report: SectionReport, seed: int, quick: bool) -> None:
    import matplotlib.pyplot as plt

    from scratchgen import models, train, viz
    from scratchgen.data import toy2d

    names = ["eight_gaussians", "two_moons", "rings", "checkerboard"]
    fig, axes = plt.subplots(2, len(names), figsize=(3.2 * len(names), 6.4))
    for column, name in enumerate(names):
        toy = dataset(name)
        model = models.create("gaussian_mixture", toy.info, components=16, seed=seed)
        metrics = train.fit(model, toy, progress=False, steps=100 if quick else 1200,
                            lr=0.03, batch_size=256, seed=seed, eval_every=10**9)  # fmt: skip
        entropy, _ = toy2d.entropy(
            toy.log_density, toy2d.TOYS[name][0], n=20_000 if quick else 100_000
        )
        metrics["kl_gap"] = metrics["test_nll"] - entropy
        report.metrics[f"gaussian_mixture/{name}"] = metrics
        report.say(
            f"{name:16s} test NLL {metrics['test_nll']:.3f} nats, KL gap {metrics['kl_gap']:.3f}"
        )
        viz.density(
            toy.log_density, (-3, 3, -3, 3), 120, title=f"{name}: p_data", ax=axes[0, column]
        )
        with ad.no_grad():
            learned = model.log_prob  # bound now: the loop moves on to the next model
            title = f"model, KL {metrics['kl_gap']:.2f} nats"
            viz.density(lambda x, f=learned: f(x).data, (-3, 3, -3, 3), 120, title=title,
                        ax=axes[1, column])  # fmt: skip
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    report.figure(fig, "gallery.png", "Four toy densities (top) and the Gaussian mixture fitted "
                  "to each, titled with its exact KL gap")  # fmt: skip


SECTION = Section(
    name="mixtures",
    title="Maximum likelihood: Gaussian mixtures and their exact KL gap",
    summary="A 16-component Gaussian mixture per toy density; KL(p_data || p_model) is measured "
    "exactly as test NLL - H(p_data).",
    tutorial="02_maximum_likelihood.py",
    budget=20,
    run=run,
)
