"""Energy-based models: an EBM trained by contrastive divergence with Langevin chains from a
replay buffer on eight Gaussians (its density normalised on a grid, its KL gap to the data
exact, the diagnostics of its training), and a binary RBM on the digits by persistent CD with
its exact log-likelihood (``energy.png``)."""

from __future__ import annotations

import numpy as np

from scratchgen.tour.report import SectionReport
from scratchgen.tour.section import Section, dataset

CD_SETTINGS = dict(step_size=None, grad_clamp=0.0, noise=0.1, langevin_steps=20,
                   buffer_size=2000, hidden=[64, 64])  # fmt: skip
DIAGNOSTICS = ("energy_data", "energy_samples", "energy_gap")


def run(report: SectionReport, seed: int, quick: bool) -> None:
    import matplotlib.pyplot as plt

    from scratchgen import models, train, viz

    mixture = dataset("eight_gaussians")
    ebm = models.create("ebm", mixture.info, seed=seed, **CD_SETTINGS)
    steps = 10 if quick else 800
    config = train.TrainConfig(steps=steps, batch_size=128, lr=3e-3, seed=seed,
                               eval_every=10**9, log_every=10)  # fmt: skip
    trainer = train.Trainer(ebm, mixture, config, progress=False)
    trainer.fit()
    log_z = ebm.log_normalizer()
    test = mixture.test[:5000]
    nll = -float(np.mean(ebm.log_prob(test, log_z=log_z).data))
    kl = nll + float(np.mean(mixture.log_density(test)))  # KL = NLL - H(p_data)
    rng = np.random.default_rng(seed)
    samples = ebm.sample(1000, rng, steps=20 if quick else 200)
    report.metrics["ebm_cd/eight_gaussians"] = {"steps": steps, "test_nll": nll, "kl": kl,
                                                "log_z": log_z}  # fmt: skip
    report.say(f"EBM by contrastive divergence (20 Langevin steps a step, a replay buffer), "
               f"{steps} steps on eight Gaussians: test NLL {nll:.3f} nats with log Z on a "
               f"grid, KL(data || model) {kl:.3f} nats")  # fmt: skip

    digits = dataset("digits_binary")
    rbm = models.create("rbm", digits.info, hidden=16, persistent=True, seed=seed)
    rbm.initialize(digits.train, np.random.default_rng(seed))
    base_rate = float(np.mean(rbm.log_prob(digits.test).data))
    rbm_steps = 10 if quick else 600
    train.fit(rbm, digits, progress=False, steps=rbm_steps, batch_size=32, lr=0.01, seed=seed,
              eval_every=10**9)  # fmt: skip
    log_p = float(np.mean(rbm.log_prob(digits.test).data))
    report.metrics["rbm_pcd/digits_binary"] = {"steps": rbm_steps, "test_log_p": log_p,
                                               "base_rate_log_p": base_rate}  # fmt: skip
    report.say(f"A 16-hidden-unit RBM by persistent CD, {rbm_steps} steps on the binary digits: "
               f"exact test log p {log_p:.2f} nats (log Z over all 2^16 hidden states), from "
               f"{base_rate:.2f} for independent pixels")  # fmt: skip

    fig, axes = plt.subplots(1, 4, figsize=(16, 4.3))
    viz.density(lambda x: ebm.log_prob(x, log_z=log_z).data, ax=axes[0],
                title="EBM: exp(-E) / Z")  # fmt: skip
    viz.scatter(samples, test[:1000], ax=axes[1], title="200 Langevin steps from noise")
    for ax in axes[:2]:
        ax.set_xlim(-3, 3)
        ax.set_ylim(-3, 3)
    for key in DIAGNOSTICS:
        points = [(r["step"], r[key]) for r in trainer.history if key in r]
        if points:
            axes[2].plot(*zip(*points), label=key.replace("_", " "))
    axes[2].set_xlabel("step")
    axes[2].legend()
    axes[2].set_title("CD's diagnostics: E(data), E(chains), gap")
    rbm_samples = rbm.sample(36, rng, steps=20 if quick else 300)
    axes[3].imshow(viz.tile(rbm_samples, 2, 6), interpolation="nearest")
    axes[3].set_title("RBM: 300 Gibbs sweeps from noise")
    axes[3].axis("off")
    fig.tight_layout()
    report.figure(fig, "energy.png", "An EBM's density and Langevin samples on eight Gaussians, "
                  "the energies CD watches, and an RBM's digits")  # fmt: skip


SECTION = Section(
    name="energy",
    title="Energy-based models: contrastive divergence and an RBM",
    summary="An energy network trained by CD with short-run Langevin from a replay buffer, its "
    "density normalised on a grid; an RBM with its exact log-likelihood.",
    tutorial="09_energy_models.py",
    budget=22,
    run=run,
)
