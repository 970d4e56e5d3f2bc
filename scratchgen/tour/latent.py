"""Latent-variable models on the binary digits: the VAE, IWAE, GMVAE, discrete-latent VAE
(Gumbel-softmax), VQ-VAE and the semi-supervised M2 (ten labels per digit), each with its ELBO
beside the importance-weighted estimate of log p(x); samples, reconstructions, a 2-D latent
space decoded on a grid; and EM fitting the eight Gaussians (``latent.png``)."""

from __future__ import annotations

import numpy as np

from scratchgen.tour.report import SectionReport
from scratchgen.tour.section import Section, dataset

# the latent-variable models of the tour: (result name, model, settings, training steps)
LATENT_MODELS = [
    ("vae", "vae", {"latent": 16, "hidden": (256,)}, 1500),
    ("vae_2d", "vae", {"latent": 2, "hidden": (256,)}, 1500),
    ("iwae", "iwae", {"latent": 16, "hidden": (256,)}, 600),
    ("gmvae", "gmvae", {"latent": 16, "hidden": (256,)}, 600),
    ("discrete_vae", "discrete_vae", {"hidden": (256,)}, 1500),
    ("vqvae", "vqvae", {"codes": 16, "code_dim": 8, "filters": 16}, 400),
    ("m2", "m2", {"hidden": (64,), "eval_samples": 10}, 400),
]


def run(report: SectionReport, seed: int, quick: bool) -> None:
    import matplotlib.pyplot as plt

    from scratchgen import models, train, viz

    digits = dataset("digits_binary")
    trained, results = {}, report.metrics
    for key, name, hparams, steps in LATENT_MODELS:
        model = models.create(name, digits.info, seed=seed, **hparams)
        metrics = train.fit(model, digits, progress=False, steps=30 if quick else steps,
                            batch_size=64, lr=3e-3, seed=seed, eval_every=10**9)  # fmt: skip
        trained[key], results[f"{key}/digits_binary"] = model, metrics
        target = "log p(x, y)" if model.conditional else "log p(x)"  # M2 scores the labels too
        estimate = (f", {target} ~ {-metrics['test_nll']:.2f} (importance sampling, "
                    f"K = {metrics['iwae_samples']})" if "test_nll" in metrics else "")  # fmt: skip
        report.say(f"{key:13s} ELBO {metrics['test_elbo']:7.2f}{estimate}")
    report.say(f"M2, trained with 10 labels per digit: test accuracy "
          f"{results['m2/digits_binary']['test_accuracy']:.1%}")  # fmt: skip
    report.say(f"the VAE uses {trained['vae'].active_units(digits.test)} of its 16 latent "
          f"dimensions; the VQ-VAE's codes have perplexity "
          f"{trained['vqvae'].codebook_usage(digits.test)['perplexity']:.1f} of 16")  # fmt: skip

    eight = dataset("eight_gaussians")
    mixture = models.create("gaussian_mixture", eight.info, components=16, seed=seed)
    mixture.initialize(eight.train, np.random.default_rng(seed))
    history = mixture.fit_em(eight.train, steps=10 if quick else 200)
    em_nll = float(-mixture.log_prob(eight.test).data.mean())
    results["gaussian_mixture_em/eight_gaussians"] = {"test_nll": em_nll,
                                                      "steps": len(history) - 1}  # fmt: skip
    report.say(f"EM, 16 Gaussians on eight Gaussians: test NLL {em_nll:.3f} nats after "
          f"{len(history) - 1} closed-form steps")  # fmt: skip

    rng = np.random.default_rng(seed)
    grid = np.linspace(-2, 2, 8)
    codes = np.stack(np.meshgrid(grid, -grid), -1).reshape(-1, 2)
    vae = trained["vae"]
    panels = [
        ("VAE samples", vae.sample(32, rng)),
        ("test digits, VAE reconstructions",
         np.concatenate([digits.test[:16], vae.reconstruct(digits.test[:16])])),
        ("2-D latent space decoded on a grid", trained["vae_2d"].decode_mean(codes)),
        ("discrete VAE samples", trained["discrete_vae"].sample(32, rng)),
        ("VQ-VAE samples (PixelCNN prior)", trained["vqvae"].sample(32, rng)),
    ]  # fmt: skip
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4.4))
    for ax, (title, images) in zip(axes, panels):
        ax.imshow(viz.tile(np.asarray(images, float), None, 8), interpolation="nearest")
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    report.figure(fig, "latent.png", "VAE samples and reconstructions, a 2-D latent space decoded "
                  "on a grid, discrete-VAE and VQ-VAE samples")  # fmt: skip


SECTION = Section(
    name="latent",
    title="Latent-variable models: VAEs, discrete latents, VQ-VAE, M2 and EM",
    summary="Bounds beside importance-sampled likelihoods on the binary digits, in nats per "
    "image; EM's closed-form steps on the eight Gaussians.",
    tutorial="04_latent_variables.py",
    budget=62,
    run=run,
)
