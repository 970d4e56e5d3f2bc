"""Score-based models: an NCSN on eight Gaussians (denoising score matching at ten noise
levels) sampled by annealed Langevin, its learned score field, and Song & Ermon's (2019,
figure 3) experiment with exact scores: on a 1:4 mixture of two far-apart Gaussians, Langevin
on the score of a single small noise level keeps the start's 1:1 split between the modes,
because no chain crosses the empty region between them, while annealed Langevin recovers 1:4
(``scores.png``); a GIF of the NCSN's annealed chains (``annealed_langevin.gif``)."""

from __future__ import annotations

import numpy as np

from scratchgen.tour.report import SectionReport
from scratchgen.tour.section import Section, dataset

NCSN_SETTINGS = dict(sigma_max=None, sigma_min=0.05, levels=10, hidden=[128, 128])
EPS, STEPS_PER_LEVEL = 1e-3, 100

# Song & Ermon 2019, section 3.2.2: p = 1/5 N((-5, -5), I) + 4/5 N((5, 5), I), chains from
# uniform noise on [-8, 8]^2, eps = 0.1, T = 100 at ten levels from 20 down to 1.
TWO_MODES, TWO_WEIGHTS = np.array([[-5.0, -5.0], [5.0, 5.0]]), np.array([0.2, 0.8])
TWO_SIGMAS, TWO_EPS, TWO_T = np.geomspace(20, 1, 10), 0.1, 100


def two_mode_fractions(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Chains of plain Langevin on the exact score at the last level, sigma_L = 1 (1000
    steps), and of annealed Langevin on the exact noised scores (the same 1000 steps), from
    the same uniform starts: both target the mixture blurred by sigma_L, N(mu_k, 2 I)."""
    from scratchgen import samplers
    from scratchgen.data.toy2d import gaussian_mixture_score

    x0 = rng.uniform(-8, 8, size=(n, 2))

    def noised(x: np.ndarray, sigma: float) -> np.ndarray:
        return gaussian_mixture_score(x, TWO_MODES, np.hypot(1.0, sigma), TWO_WEIGHTS)

    steps = len(TWO_SIGMAS) * TWO_T
    last = float(TWO_SIGMAS[-1])
    plain = samplers.langevin(lambda x: noised(x, last), x0, TWO_EPS, steps, rng)
    annealed = samplers.annealed_langevin(noised, TWO_SIGMAS, TWO_EPS, TWO_T, x0, rng,
                                          denoise=False)  # fmt: skip
    return {"plain": plain, "annealed": annealed}


def run(report: SectionReport, seed: int, quick: bool) -> None:
    import matplotlib.pyplot as plt

    from scratchgen import models, train, viz
    from scratchgen.metrics import mode_coverage

    mixture = dataset("eight_gaussians")
    centres, std = mixture.extras["modes"]
    ncsn = models.create("ncsn", mixture.info, seed=seed, **NCSN_SETTINGS)
    steps = 10 if quick else 2500
    train.fit(ncsn, mixture, progress=False, steps=steps, batch_size=256, lr=3e-3, seed=seed,
              eval_every=10**9)  # fmt: skip
    rng = np.random.default_rng(seed)
    per_level = 5 if quick else STEPS_PER_LEVEL
    samples, trajectory = ncsn.sample(1000, rng, steps_per_level=per_level, eps=EPS,
                                      return_trajectory=True)  # fmt: skip
    scores = mode_coverage(samples, centres, std)
    report.metrics["ncsn/eight_gaussians"] = {
        "steps": steps, "modes": int(scores["modes"]),
        "high_quality": float(scores["high_quality"]),
        "log_density": float(np.mean(mixture.log_density(samples)))}  # fmt: skip
    report.say(f"NCSN, {steps} steps of denoising score matching at {len(ncsn.sigmas)} levels; "
               f"annealed Langevin ({len(ncsn.sigmas) * per_level} steps): {scores['modes']} "
               f"of 8 modes, {100 * scores['high_quality']:.1f}% within 3 sd of one")  # fmt: skip

    chains = two_mode_fractions(1000, rng)
    lower = {name: float(np.mean(x.sum(axis=1) < 0)) for name, x in chains.items()}
    report.metrics["exact_score/two_modes"] = {"lower_mode_fraction": lower, "true": 0.2}
    report.say(f"Exact scores of 1/5 N((-5,-5), I) + 4/5 N((5,5), I): Langevin at the last "
               f"level alone puts "
               f"{100 * lower['plain']:.0f}% of its chains in the small mode, annealed "
               f"Langevin {100 * lower['annealed']:.0f}% (true: 20%)")  # fmt: skip

    fig, axes = plt.subplots(1, 4, figsize=(16, 4.3))
    viz.scatter(samples, mixture.test[:1000], ax=axes[0],
                title=f"NCSN, annealed from sigma {ncsn.sigmas[0]:.2g}")  # fmt: skip
    grid = np.stack(np.meshgrid(np.linspace(-3, 3, 17), np.linspace(-3, 3, 17)), -1)
    points = grid.reshape(-1, 2).astype(np.float32)
    middle = float(ncsn.sigmas[len(ncsn.sigmas) // 2])
    arrows = ncsn.score(points, middle)
    axes[1].quiver(points[:, 0], points[:, 1], arrows[:, 0], arrows[:, 1], angles="xy")
    axes[1].set_title(f"its learned score at sigma = {middle:.2g}")
    for ax in axes[:2]:
        ax.set_xlim(-3, 3)
        ax.set_ylim(-3, 3)
    for ax, name in zip(axes[2:], ("plain", "annealed")):
        title = f"{name} Langevin: {100 * lower[name]:.0f}% in the 1/5 mode"
        viz.scatter(chains[name], ax=ax, title=title)
        ax.set_xlim(-9, 9)
        ax.set_ylim(-9, 9)
    for ax in axes:
        ax.set_aspect("equal")
    fig.tight_layout()
    report.figure(fig, "scores.png", "An NCSN's annealed samples and score field on eight "
                  "Gaussians; plain against annealed Langevin on a 1:4 mixture")  # fmt: skip
    report.trajectory_animation(trajectory, "annealed_langevin.gif",
                     "Annealed Langevin carrying N(0, sigma_1^2 I) noise to the eight Gaussians",
                     fps=8, extent=(-4, 4, -4, 4))  # fmt: skip


SECTION = Section(
    name="scores",
    title="Score-based models: NCSN and annealed Langevin",
    summary="Denoising score matching at ten noise levels on eight Gaussians; with exact "
    "scores, annealed Langevin weighs two far-apart modes right where plain Langevin does not.",
    tutorial="10_score_matching.py",
    budget=20,
    run=run,
)
