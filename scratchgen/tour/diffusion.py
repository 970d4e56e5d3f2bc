"""Diffusion: a DDPM on two moons sampled by its 1000-step reverse chain and by 20 steps of
DDIM, a VP score-SDE model's exact likelihood through the probability-flow ODE (its KL gap
to the moons' known density), and with the exact score of a Gaussian every sampler's answer
against the truth (``diffusion.png``); a GIF of the reverse process (``reverse_process.gif``)."""

from __future__ import annotations

import time

import numpy as np

from scratchgen.tour.report import SectionReport
from scratchgen.tour.section import Section, dataset

NETWORK = dict(hidden=[128, 128, 128])


def exact_score_check(rng: np.random.Generator) -> dict[str, float]:
    """Each sampler on the closed-form score of N(mu, Sigma): the largest error in the
    samples' mean, in units of the data's sd, and the ODE likelihood's error in nats."""
    from scratchgen import diffusion
    from scratchgen.diffusion.targets import GaussianData

    data = GaussianData([0.0, 0.0], [[1.0, 0.8], [0.8, 1.0]])
    sde, schedule = diffusion.VPSDE(), diffusion.NoiseSchedule()
    score, eps = data.sde_score(sde), data.schedule_eps(schedule)
    shape = (2000, 2)
    drawn = {
        "ancestral": diffusion.ddpm_ancestral(schedule, eps, shape, rng),
        "DDIM, 100 steps": diffusion.ddim(schedule, eps, shape, rng, steps=100),
        "Euler-Maruyama": diffusion.euler_maruyama(sde, score, shape, rng, steps=500),
        "predictor-corrector": diffusion.predictor_corrector(sde, score, shape, rng, steps=300),
        "probability-flow ODE": diffusion.probability_flow_ode(sde, score, shape, rng),
    }  # fmt: skip
    errors = {name: float(np.abs(x.mean(axis=0)).max()) for name, x in drawn.items()}
    x = data.sample(20, rng)
    log_p = diffusion.ode_log_likelihood(sde, score, x)
    errors["ODE log p (nats)"] = float(np.abs(log_p - data.log_prob(x)).max())
    return errors


def run(report: SectionReport, seed: int, quick: bool) -> None:
    import matplotlib.pyplot as plt

    from scratchgen import models, train, viz

    moons = dataset("two_moons")
    steps = 10 if quick else 1500
    config = dict(steps=steps, batch_size=256, lr=3e-3, schedule="cosine", seed=seed,
                  eval_every=10**9)  # fmt: skip
    rng = np.random.default_rng(seed)

    ddpm = models.create("ddpm", moons.info, seed=seed, timesteps=200 if quick else 1000,
                         **NETWORK)  # fmt: skip
    trainer = train.Trainer(ddpm, moons, train.TrainConfig(**config), progress=False)
    trainer.fit()
    with trainer.ema.applied(ddpm):
        ancestral, trajectory = ddpm.sample(1000, rng, return_trajectory=True)
        ddim = ddpm.sample(1000, rng, sampler="ddim", steps=20)
    report.say(f"DDPM, {steps} steps of L_simple on two moons; 1000 samples by the "
               f"{ddpm.schedule.T}-step reverse chain and by 20 steps of DDIM")  # fmt: skip

    sde_model = models.create("score_sde", moons.info, seed=seed, **NETWORK)
    train.fit(sde_model, moons, progress=False, **config)
    started = time.perf_counter()
    test = moons.test[: 50 if quick else 1000]
    nll = -float(np.mean(sde_model.log_prob(test).data))
    entropy = float(np.mean(-moons.log_density(moons.test[:20000])))
    report.metrics["score_sde/two_moons"] = {"steps": steps, "test_nll": nll,
                                             "kl": nll - entropy}  # fmt: skip
    report.say(f"VP score-SDE, {steps} steps: exact test NLL through the probability-flow ODE "
               f"{nll:.3f} nats, KL gap {nll - entropy:.3f} to the moons' density "
               f"({time.perf_counter() - started:.1f} s for {len(test)} points)")  # fmt: skip

    errors = exact_score_check(rng)
    report.metrics["exact_score/gaussian"] = errors
    worst = max(v for k, v in errors.items() if "nats" not in k)
    report.say(f"With the exact score of a Gaussian, every sampler's mean is within "
               f"{worst:.3f} sd of the truth; the ODE log p within "
               f"{errors['ODE log p (nats)']:.1e} nats of the closed form")  # fmt: skip

    fig, axes = plt.subplots(1, 3, figsize=(12, 4.2))
    viz.scatter(ancestral, moons.test[:1000], ax=axes[0],
                title=f"DDPM, {ddpm.schedule.T} ancestral steps")  # fmt: skip
    viz.scatter(ddim, moons.test[:1000], ax=axes[1], title="the same DDPM, 20 DDIM steps")
    side = np.linspace(-1.5, 2.5, 30 if not quick else 8)
    grid = np.stack(np.meshgrid(side, side - 0.5), -1).reshape(-1, 2)
    density = np.exp(sde_model.log_prob(grid).data).reshape(len(side), len(side))
    axes[2].imshow(density, origin="lower", extent=(-1.5, 2.5, -2.0, 2.0), cmap="viridis")
    axes[2].set_title("VP score-SDE: exp(log p) by the ODE")
    fig.tight_layout()
    report.figure(fig, "diffusion.png", "A DDPM's samples (ancestral and DDIM) and a score "
                  "SDE's exact density on two moons")  # fmt: skip
    report.trajectory_animation(trajectory, "reverse_process.gif",
                                "DDPM's reverse process: noise to two moons", fps=8,
                                extent=(-2.5, 3, -2.5, 2.5))  # fmt: skip


SECTION = Section(
    name="diffusion",
    title="Diffusion: DDPM, DDIM and the probability-flow ODE",
    summary="A DDPM on two moons by its reverse chain and by 20 DDIM steps; a score SDE's "
    "exact likelihood through the ODE; every sampler checked on a Gaussian's exact score.",
    tutorial="11_diffusion.py",
    budget=50,
    run=run,
)
