"""The frontier: flow matching on the two moons, three ways (independent pairs, minibatch
optimal transport, and a reflow of the first), scored by W2 after 1 and 20 Euler steps with
each flow's path energy, and their paths drawn from the same noise (``frontier.png``)."""

from __future__ import annotations

import numpy as np

from scratchgen.tour.report import SectionReport
from scratchgen.tour.section import Section, dataset

NETWORK = dict(path="tong", hidden=[64, 64, 64])
PAIRS = 4000


def run(report: SectionReport, seed: int, quick: bool) -> None:
    import matplotlib.pyplot as plt

    from scratchgen import flow_matching as fm
    from scratchgen import metrics, models, train

    moons = dataset("two_moons")
    steps = 20 if quick else 800
    fit = dict(steps=steps, batch_size=256, lr=3e-3, seed=seed, eval_every=10**9,
               progress=False)  # fmt: skip
    rng = np.random.default_rng(seed)
    flows = {}
    for name, coupling in (("independent", "independent"), ("minibatch OT", "ot")):
        flows[name] = models.create("flow_matching", moons.info, coupling=coupling, sigma=0.1,
                                    seed=seed, **NETWORK)  # fmt: skip
        train.fit(flows[name], moons, **fit)
    reflow = models.create("flow_matching", moons.info, coupling="reflow", pairs=PAIRS,
                           sigma=0.0, seed=seed, **NETWORK)  # fmt: skip
    reflow.set_pairs(*flows["independent"].couple(PAIRS, rng, steps=50))
    train.fit(reflow, moons, **fit)
    flows["reflow of the independent"] = reflow

    test, start = moons.test[:1000], rng.standard_normal((1000, 2))
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    for ax, (name, model) in zip(axes, flows.items()):
        scores = {f"w2_{k}_steps": metrics.wasserstein2(model.sample(1000, rng, steps=k,
                                                                     x0=start), test)
                  for k in (1, 20)}  # fmt: skip
        scores["path_energy"] = fm.path_energy(model.velocity, start)
        report.metrics[f"flow_matching/{name}"] = {"steps": steps, **scores}
        report.say(f"flow matching, {name}: W2 to the test set {scores['w2_1_steps']:.3f} after "
                   f"1 Euler step, {scores['w2_20_steps']:.3f} after 20; path energy "
                   f"{scores['path_energy']:.3f}")  # fmt: skip
        _, path = model.sample(150, rng, steps=20, x0=start[:150], return_trajectory=True)
        path = np.stack(path)
        ax.scatter(*test[:500].T, s=1, c="lightgrey")
        ax.plot(path[:, :, 0], path[:, :, 1], lw=0.4, c="tab:blue", alpha=0.6)
        ax.scatter(*path[-1].T, s=3, c="tab:orange")
        ax.set(title=f"{name}: W2 at 1 step {scores['w2_1_steps']:.2f}", xlim=(-3, 3.5),
               ylim=(-3, 3), xticks=[], yticks=[])  # fmt: skip
    fig.tight_layout()
    report.figure(fig, "frontier.png", "Flow matching's paths from the same noise to the moons: "
                  "independent pairs cross and curve, optimal-transport pairs and a reflow "
                  "straighten them")  # fmt: skip


SECTION = Section(
    name="frontier",
    title="The frontier: flow matching and rectified flow",
    summary="Conditional flow matching on the moons with independent and minibatch-OT "
    "couplings, and rectified flow's reflow: one-step W2 and path energy.",
    tutorial="13_frontier.py",
    budget=15,
    run=run,
)
