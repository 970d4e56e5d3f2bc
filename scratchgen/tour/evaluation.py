"""Evaluation: the project's own feature network for FID and KID, FID's bias with few samples
measured between two halves of the digits, and Parzen windows ranking models in the wrong
order where the exact likelihood is known (``evaluation.png``).
"""

from __future__ import annotations

import numpy as np

from scratchgen.tour.report import SectionReport
from scratchgen.tour.section import Section, dataset

SIZES = (50, 100, 200, 359)  # real and generated images per score; the test set has 359
SCALES = (0.6, 0.8, 1.0, 1.2)  # the "models" N(0, s^2 I) of the Parzen comparison


def _bias(report: SectionReport, rng: np.random.Generator, axes) -> None:
    """FID and KID of training digits against test digits: one distribution, so the truth is 0."""
    from scratchgen import metrics

    digits = dataset("digits")
    network = metrics.feature_network("digits", progress=False)
    real = network.features(digits.test)
    fids, kids = [], []
    for n in SIZES:
        fake = network.features(digits.train[rng.choice(len(digits.train), n, replace=False)])
        fids.append(metrics.fid(real[:n], fake) if n >= real.shape[1] else np.nan)
        kids.append(metrics.kid(real[:n], fake, subsets=50, subset_size=n // 2, rng=rng))
    report.metrics["evaluation/fid_bias"] = {
        "network": network.name, "test_accuracy": network.test_accuracy,
        **{f"fid_{network.name}_n{n}": f for n, f in zip(SIZES, fids)},
        **{f"kid_{network.name}_mean_n{n}": k[0] for n, k in zip(SIZES, kids)},
    }  # fmt: skip
    kid_mean, kid_std = 1e3 * np.asarray(kids[-1])
    report.say(f"{network.name} (test accuracy {network.test_accuracy:.1%}): training digits "
               f"against test digits, FID {fids[1]:.2f} with 100 images each, {fids[-1]:.2f} "
               f"with 359; KID x 1e3 {kid_mean:.2f} +- {kid_std:.2f}")  # fmt: skip
    axes[0].plot(SIZES, fids, "o-")
    axes[0].set_title(f"FID ({network.name}): biased upwards")
    axes[1].errorbar(SIZES, [1e3 * k[0] for k in kids], [1e3 * k[1] for k in kids], fmt="s-")
    axes[1].set_title("KID x 1e3, +- std over subsets: unbiased")
    for ax in axes:
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xlabel("images per set (one distribution: the truth is 0)")


def _parzen(report: SectionReport, rng: np.random.Generator, quick: bool, ax) -> None:
    """Data N(0, I_20); models N(0, s^2 I_20) with exact log-likelihoods; Parzen estimates."""
    from scratchgen import metrics

    d = 20
    test, validation = rng.standard_normal((500, d)), rng.standard_normal((300, d))
    parzen, exact = [], []
    for s in SCALES:
        samples = s * rng.standard_normal((500 if quick else 2000, d))
        h = metrics.select_parzen_bandwidth(samples, validation)
        parzen.append(float(metrics.parzen_log_likelihood(samples, test, h).mean()))
        log_q = -0.5 * np.sum((test / s) ** 2, 1) - d * np.log(s) - d / 2 * np.log(2 * np.pi)
        exact.append(float(log_q.mean()))
    report.metrics["evaluation/parzen"] = {f"s{s}": {"parzen": p, "exact": e}
                                           for s, p, e in zip(SCALES, parzen, exact)}  # fmt: skip
    report.say(f"Parzen windows prefer s = {SCALES[int(np.argmax(parzen))]}, the exact "
               f"likelihood s = {SCALES[int(np.argmax(exact))]} (the truth is s = 1)")  # fmt: skip
    ax.plot(SCALES, parzen, "o-", label="Parzen estimate")
    ax.plot(SCALES, exact, "s-", label="exact")
    ax.set_xlabel("model N(0, s^2 I) for data N(0, I), 20 dimensions")
    ax.set_ylabel("test log-likelihood (nats)")
    ax.set_title("Parzen windows rank the models wrongly")
    ax.legend(fontsize=8)


def run(report: SectionReport, seed: int, quick: bool) -> None:
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    _bias(report, rng, axes[:2])
    _parzen(report, rng, quick, axes[2])
    fig.tight_layout()
    report.figure(fig, "evaluation.png", "FID and KID between two samples of the same "
                  "digits, against the number of images: FID is biased upwards at small n, KID "
                  "is not but is noisy. Right: the Parzen-window estimate and the exact "
                  "log-likelihood of four Gaussian models")  # fmt: skip


SECTION = Section(
    name="evaluation",
    title="Evaluation: feature-network scores and their biases",
    summary="FID and KID with the scratchgen digits network between two samples of one "
    "distribution, and Parzen windows against exact likelihoods.",
    tutorial="06_evaluation.py",
    budget=10,
    run=run,
)
