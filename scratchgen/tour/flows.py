"""Normalising flows: RealNVP on the two moons (its exact density and its samples), Glow on the
17-level digits with dequantisation (bits/dim, samples at temperatures 1.0 and 0.7), and MAF
against IAF timed in the two directions (``flows.png``)."""

from __future__ import annotations

import time

import numpy as np

from scratchgen.tour.report import SectionReport
from scratchgen.tour.section import Section, dataset


def _milliseconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return 1e3 * (time.perf_counter() - start)


def run(report: SectionReport, seed: int, quick: bool) -> None:
    import matplotlib.pyplot as plt

    import autodiff as ad
    from scratchgen import models, train, viz

    moons = dataset("two_moons")
    realnvp = models.create("realnvp", moons.info, couplings=6, seed=seed)
    metrics = train.fit(realnvp, moons, progress=False, steps=30 if quick else 800,
                        batch_size=256, lr=3e-3, schedule="cosine", seed=seed,
                        eval_every=10**9)  # fmt: skip
    entropy = -float(np.mean(moons.log_density(moons.test)))
    report.metrics["realnvp/two_moons"] = metrics
    report.say(f"RealNVP, 6 couplings, two moons: test NLL {metrics['test_nll']:.3f} nats, "
               f"KL gap to the data {metrics['test_nll'] - entropy:.3f} nats")  # fmt: skip

    digits = dataset("digits")
    glow = models.create("glow", digits.info, depth=4, filters=16, seed=seed)
    metrics = train.fit(glow, digits, progress=False, steps=20 if quick else 300, batch_size=64,
                        lr=2e-3, schedule="cosine", seed=seed, eval_every=10**9)  # fmt: skip
    report.metrics["glow/digits"] = metrics
    report.say(f"Glow, 2 levels x 4 steps, 17-level digits: {metrics['test_bpd']:.3f} "
               "bits/dim (the dequantised bound; PixelCNN: 1.87, in its table)")  # fmt: skip

    rng = np.random.default_rng(seed)
    maf = models.create("maf", digits.info, layers=2, hidden=[128], seed=seed)
    iaf = models.create("iaf", digits.info, layers=2, hidden=[128], seed=seed)
    with ad.no_grad():
        times = {name: (_milliseconds(lambda m=m: m.log_prob(digits.test[:100])),
                        _milliseconds(lambda m=m: m.sample(100, rng)))
                 for name, m in (("MAF", maf), ("IAF", iaf))}  # fmt: skip
    report.metrics["maf_iaf_milliseconds"] = {
        f"{name}_{what}": value for name, pair in times.items()
        for what, value in zip(("score", "sample"), pair)}  # fmt: skip
    report.say("100 digits, 2 layers: " + "; ".join(
        f"{name} scores in {score:.1f} ms and samples in {sample:.1f} ms"
        for name, (score, sample) in times.items()))  # fmt: skip

    fig, axes = plt.subplots(1, 4, figsize=(16, 4.3))
    with ad.no_grad():
        viz.density(lambda x: realnvp.log_prob(x).data, (-2, 3, -1.5, 2), 150, ax=axes[0],
                    title="RealNVP: exact density")  # fmt: skip
    viz.scatter(realnvp.sample(2000, rng), moons.test[:2000], ax=axes[1],
                title="RealNVP samples over the data")  # fmt: skip
    for ax, temperature in zip(axes[2:], (1.0, 0.7)):
        samples = glow.sample(64, np.random.default_rng(seed), temperature=temperature)
        ax.imshow(viz.tile(samples, 17, 8), interpolation="nearest")
        ax.set_title(f"Glow samples, T = {temperature}")
        ax.axis("off")
    fig.tight_layout()
    report.figure(fig, "flows.png", "RealNVP's exact density on the two moons and its samples; "
                  "Glow's digit samples at temperatures 1.0 and 0.7")  # fmt: skip


SECTION = Section(
    name="flows",
    title="Normalising flows: RealNVP, Glow, MAF and IAF",
    summary="Exact densities by change of variables: RealNVP's KL gap on the moons, Glow's "
    "bits/dim on the digits (dequantised), and MAF against IAF in the two directions.",
    tutorial="07_flows.py",
    budget=28,
    run=run,
)
