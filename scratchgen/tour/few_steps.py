"""Few-step and discrete generation: a consistency model distilled from a DDPM on the eight
Gaussians, scored by W2 at one and two steps beside the teacher's DDIM at 50, with its
one-step map drawn (``few_steps.png``); and discrete diffusion's bound against the exact
negative log-likelihood of its reverse chain, on a space small enough to enumerate."""

from __future__ import annotations

import numpy as np

from scratchgen.tour.report import SectionReport
from scratchgen.tour.section import Section, dataset

TRAINING = dict(batch_size=256, lr=3e-3, schedule="cosine", eval_every=10**9)
STUDENT = dict(objective="distillation", N=18, mu=0.95)


def _consistency(report: SectionReport, seed: int, quick: bool) -> None:
    import matplotlib.pyplot as plt

    from scratchgen import metrics, models, train, viz

    toy = dataset("eight_gaussians")
    held_out = toy.test[-1000:]
    config = train.TrainConfig(steps=20 if quick else 1200, seed=seed, **TRAINING)
    teacher = models.create("ddpm", toy.info, seed=seed)
    teacher_trainer = train.Trainer(teacher, toy, config, progress=False)
    teacher_trainer.fit()
    student = models.create("consistency", toy.info, sigma_data=float(toy.train.std()),
                            seed=seed, **STUDENT)  # fmt: skip
    with teacher_trainer.ema.applied(teacher):
        denoiser = teacher.denoiser()
        student.set_teacher(denoiser, denoiser.sigmas)
        trainer = train.Trainer(student, toy, config, progress=False)
        trainer.fit()
        rng = np.random.default_rng(seed)
        ddim = teacher.sample(1000, rng, "ddim", steps=50)
    scores = {"teacher_ddim_50": metrics.wasserstein2(ddim, held_out)}
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    viz.scatter(ddim, held_out, f"teacher, DDIM 50 steps: W2 {scores['teacher_ddim_50']:.2f}",
                ax=axes[0])  # fmt: skip
    with trainer.ema.applied(student):
        for steps in (1, 2):
            samples = student.sample(1000, rng, steps=steps)
            scores[f"consistency_{steps}_step"] = metrics.wasserstein2(samples, held_out)
        T, z = student.hparams["sigma_max"], rng.standard_normal((300, 2))
        mapped = student.consistency(T * z, np.full(len(z), T))
        viz.displacements(z * student.hparams["sigma_data"], mapped, ("noise", "one step"),
                          "the one-step map f(T z, T)", ax=axes[1])  # fmt: skip
    viz.scatter(samples, held_out, f"consistency, 2 steps: W2 {scores['consistency_2_step']:.2f}",
                ax=axes[2])  # fmt: skip
    report.metrics["consistency"] = {"steps": config.steps, **scores}
    report.say(f"consistency distillation: W2 {scores['consistency_1_step']:.3f} in one step "
               f"and {scores['consistency_2_step']:.3f} in two, against the teacher's "
               f"{scores['teacher_ddim_50']:.3f} in 50 DDIM steps")  # fmt: skip
    fig.tight_layout()
    report.figure(fig, "few_steps.png", "A DDPM distilled into a consistency model: each noise "
                  "point is carried to the data in one network evaluation")  # fmt: skip


def _discrete(report: SectionReport, seed: int) -> None:
    from scratchgen.discrete_diffusion import Graph, exact

    p_data = np.random.default_rng(seed).dirichlet(np.ones(9))  # two tokens over three symbols
    entropy = -p_data @ np.log(p_data)
    graph = Graph("absorbing", 3)
    denoiser = exact.data_denoiser(graph, p_data, 2)
    rows = {}
    for T in (4, 64):
        nll = p_data @ exact.chain_nll(graph, denoiser, T, 2) - entropy
        bound = p_data @ exact.d3pm_bound(graph, denoiser, exact.sequences(3, 2), T) - entropy
        rows[f"T_{T}"] = {"bound_above_entropy": bound, "nll_above_entropy": nll}
    report.metrics["discrete_diffusion"] = rows
    report.say(f"discrete diffusion (absorbing, exact denoiser, every state enumerated): the "
               f"bound is {rows['T_4']['bound_above_entropy']:.3f} nats above the entropy at "
               f"T = 4 and {rows['T_64']['bound_above_entropy']:.3f} at T = 64; the chain's "
               f"exact NLL {rows['T_4']['nll_above_entropy']:.3f} and "
               f"{rows['T_64']['nll_above_entropy']:.3f}")  # fmt: skip


def run(report: SectionReport, seed: int, quick: bool) -> None:
    _consistency(report, seed, quick)
    _discrete(report, seed)


SECTION = Section(
    name="few_steps",
    title="Few steps and discrete data: consistency models, discrete diffusion",
    summary="A DDPM distilled into a one-step consistency model on the eight Gaussians, and "
    "discrete diffusion's bound against its chain's exact NLL.",
    tutorial="13_frontier.py",
    budget=15,
    run=run,
)
