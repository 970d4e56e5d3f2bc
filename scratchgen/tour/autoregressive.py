"""Autoregressive models: PixelCNN on the 8x8 digits (samples, and the bottom halves of test
digits completed), and the character Transformer on the grammar text, whose exact entropy rate
gives its KL gap per character (``autoregressive.png``)."""

from __future__ import annotations

import numpy as np

import autodiff as ad
from scratchgen.tour.report import SectionReport
from scratchgen.tour.section import Section, dataset


def run(report: SectionReport, seed: int, quick: bool) -> None:
    import matplotlib.pyplot as plt

    from scratchgen import data, models, train, viz
    from scratchgen.data import grammar

    digits = dataset("digits")
    pixelcnn = models.create("pixelcnn", digits.info, seed=seed)
    digit_metrics = train.fit(pixelcnn, digits, progress=False, steps=20 if quick else 400,
                              batch_size=64, lr=0.005, seed=seed, eval_every=10**9)  # fmt: skip
    report.say(f"PixelCNN, digits (17 levels): {digit_metrics['test_bpd']:.3f} bits/dim")
    rng = np.random.default_rng(seed)
    samples = pixelcnn.sample(16, rng)
    mask = np.zeros(digits.info.shape, bool)
    mask[:, :4] = True  # the top half is given
    tops = digits.test[:8]
    completed = pixelcnn.sample(8, rng, given=tops, mask=mask)

    text = dataset("grammar")
    lm = models.create("transformer", text.info, seed=seed)
    text_metrics = train.fit(lm, text, progress=False, steps=20 if quick else 400, batch_size=32,
                             lr=0.005, seed=seed, eval_every=10**9)  # fmt: skip
    per_char = text_metrics["test_nll"] / text.info.shape[0]
    text_metrics["kl_gap_per_char"] = per_char - grammar.entropy_rate()
    gap = text_metrics["kl_gap_per_char"]
    report.say(f"Transformer, grammar text: {per_char:.3f} nats/char, entropy rate "
          f"{grammar.entropy_rate():.3f}, KL gap {gap:.3f} nats/char")  # fmt: skip
    vocab = text.extras["vocab"]
    prompt = data.encode("the big ", vocab)
    continuation = data.decode(lm.sample(1, rng, given=prompt, top_p=0.9)[0], vocab)
    report.say(f"a continuation of 'the big ': {continuation!r}")
    # likelihood as a judge: a grammatical window against the same words out of order
    good = "the big cat sees a fish. a small dog eats the bird. the old dog "
    bad = "cat the big a sees fish. dog small a the eats bird. old the dog "
    with ad.no_grad():
        scores = lm.log_prob(np.stack([data.encode(good, vocab), data.encode(bad, vocab)])).data
    text_metrics["log_p_grammatical_minus_shuffled"] = float(scores[0] - scores[1])
    report.say(f"log p(grammatical) - log p(shuffled words) = {scores[0] - scores[1]:.1f} nats")

    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    axes[0].imshow(viz.tile(samples, 17, 4), interpolation="nearest")
    axes[0].set_title("PixelCNN samples")
    axes[1].imshow(viz.tile(np.concatenate([tops, completed]), 17, 8), interpolation="nearest")
    axes[1].set_title("test digits (top), bottom halves completed (below)")
    axes[2].text(0, 0.5, "\n".join(continuation[i : i + 22] for i in range(0, 64, 22)),
                 family="monospace", fontsize=11, va="center")  # fmt: skip
    axes[2].set_title("Transformer: 'the big ' continued")
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    report.figure(fig, "autoregressive.png", "PixelCNN samples and test digits with their bottom "
                  "halves completed; the Transformer continuing a prompt")  # fmt: skip
    report.metrics.update({"pixelcnn/digits": digit_metrics, "transformer/grammar": text_metrics})


SECTION = Section(
    name="autoregressive",
    title="Autoregressive models: PixelCNN and a character Transformer",
    summary="Exact likelihoods by the chain rule: a PixelCNN samples and completes digits, a "
    "Transformer learns a grammar whose entropy rate is known.",
    tutorial="03_autoregressive.py",
    budget=65,
    run=run,
)
