"""``scratchgen tour``: the demo. It grows as the model families land.

1. The engine: a two-layer MLP classifier trained on two moons by plain gradient descent,
   every gradient from ``autodiff.grad``, and a Hessian-vector product of the same loss,
   H v = d/dtheta <grad L(theta), v>, checked against a finite difference of gradients
   (``tour.png``: the decision boundary and the loss curve).
2. Maximum likelihood: a Gaussian mixture fitted by the shared Trainer to four toy densities,
   each scored by its exact KL gap, KL(p_data || p_model) = test NLL - H(p_data)
   (``gallery.png``: the data, and the learned densities; ``metrics.json``).
3. Autoregressive models: PixelCNN on the 8x8 digits (samples, and the bottom halves of test
   digits completed), and the character Transformer on the grammar text, whose exact entropy
   rate gives its KL gap per character (``autoregressive.png``).
4. Latent-variable models on the binary digits: the VAE, IWAE, GMVAE, discrete-latent VAE
   (Gumbel-softmax), VQ-VAE and the semi-supervised M2 (ten labels per digit), each with its
   ELBO beside the importance-weighted estimate of log p(x); samples, reconstructions, a 2-D
   latent space decoded on a grid; and EM fitting the eight Gaussians beside the gradient fit
   of part 2 (``latent.png``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import autodiff as ad


def _two_moons(n: int, rng: np.random.Generator, noise: float = 0.1):
    """Two interleaved half circles, labels 0 and 1."""
    angle = rng.uniform(0, np.pi, n)
    label = rng.integers(0, 2, n)
    x = np.where(label[:, None] == 0,
                 np.stack([np.cos(angle), np.sin(angle)], 1),
                 np.stack([1 - np.cos(angle), 0.5 - np.sin(angle)], 1))  # fmt: skip
    return x + noise * rng.standard_normal((n, 2)), label.astype(np.float64)


def _init(rng: np.random.Generator, sizes: list[int]) -> list[ad.Tensor]:
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append(ad.Tensor(rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in), True))
        params.append(ad.Tensor(np.zeros(fan_out), True))
    return params


def _logits(params: list[ad.Tensor], x: np.ndarray) -> ad.Tensor:
    h = ad.Tensor(x)
    for k in range(0, len(params) - 2, 2):
        h = ad.tanh(h @ params[k] + params[k + 1])
    return (h @ params[-2] + params[-1]).reshape(-1)


def _loss(params: list[ad.Tensor], x: np.ndarray, y: np.ndarray) -> ad.Tensor:
    """Bernoulli negative log-likelihood with logits l: -log p(y|l) = softplus(l) - y l."""
    logits = _logits(params, x)
    return ad.mean(ad.softplus(logits) - y * logits)


def _hvp_check(params: list[ad.Tensor], x, y, rng: np.random.Generator) -> float:
    """Relative difference between H v by double backward and by differencing gradients."""
    v = [rng.standard_normal(p.shape) for p in params]
    grads = ad.grad(_loss(params, x, y), params, create_graph=True)
    directional = sum((g * vi).sum() for g, vi in zip(grads, v))
    hv = ad.grad(directional, params)

    eps = 1e-5

    def grads_at(sign: float) -> list[np.ndarray]:
        shifted = [ad.Tensor(p.data + sign * eps * vi, True) for p, vi in zip(params, v)]
        return [g.data for g in ad.grad(_loss(shifted, x, y), shifted)]

    finite = [(a - b) / (2 * eps) for a, b in zip(grads_at(1.0), grads_at(-1.0))]
    hv_flat = np.concatenate([h.data.ravel() for h in hv])
    fd_flat = np.concatenate([f.ravel() for f in finite])
    return float(np.linalg.norm(hv_flat - fd_flat) / np.linalg.norm(fd_flat))


def _figure(path: Path, params, x, y, losses: list[float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.linspace(-1.5, 2.5, 200)
    gx, gy = np.meshgrid(grid, grid)
    with ad.no_grad():
        prob = ad.sigmoid(_logits(params, np.stack([gx.ravel(), gy.ravel()], 1))).data
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.contourf(gx, gy, prob.reshape(gx.shape), levels=20, cmap="RdBu_r", alpha=0.6)
    left.scatter(x[:, 0], x[:, 1], c=y, cmap="RdBu_r", s=6, edgecolors="none")
    left.set_title("two moons: p(y = 1 | x) of the MLP")
    right.plot(losses)
    right.set_xlabel("gradient step")
    right.set_ylabel("negative log-likelihood (nats)")
    right.set_yscale("log")
    right.set_title("training loss")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_tour(out: Path, seed: int = 0, quick: bool = False) -> dict[str, dict[str, float]]:
    """Run the demo, write its figures into ``out``, print and return its numbers."""
    results = {"engine": _engine_demo(out, seed, quick)}
    results.update(_mixture_gallery(out, seed, quick))
    results.update(_autoregressive(out, seed, quick))
    results.update(_latent(out, seed, quick))
    from scratchgen.train.checkpoint import save_json

    save_json(out / "metrics.json", results)
    print(f"  wrote {out / 'metrics.json'}")
    return results


def _mixture_gallery(out: Path, seed: int, quick: bool) -> dict[str, dict[str, float]]:
    import matplotlib.pyplot as plt

    from scratchgen import data, models, train, viz
    from scratchgen.data import toy2d

    names = ["eight_gaussians", "two_moons", "rings", "checkerboard"]
    print("scratchgen tour: maximum likelihood, a Gaussian mixture (16 components) per density")
    fig, axes = plt.subplots(2, len(names), figsize=(3.2 * len(names), 6.4))
    results = {}
    for column, name in enumerate(names):
        dataset = data.load(name)
        model = models.create("gaussian_mixture", dataset.info, components=16, seed=seed)
        metrics = train.fit(model, dataset, progress=False, steps=100 if quick else 2000,
                            lr=0.03, batch_size=256, seed=seed, eval_every=10**9)  # fmt: skip
        entropy, _ = toy2d.entropy(
            dataset.log_density, toy2d.TOYS[name][0], n=20_000 if quick else 200_000
        )
        metrics["kl_gap"] = metrics["test_nll"] - entropy
        results[f"gaussian_mixture/{name}"] = metrics
        print(
            f"  {name:16s} test NLL {metrics['test_nll']:.3f} nats, KL gap {metrics['kl_gap']:.3f}"
        )
        viz.density(
            dataset.log_density, (-3, 3, -3, 3), 120, title=f"{name}: p_data", ax=axes[0, column]
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
    fig.savefig(out / "gallery.png", dpi=90)
    plt.close(fig)
    print(f"  wrote {out / 'gallery.png'}")
    return results


def _autoregressive(out: Path, seed: int, quick: bool) -> dict[str, dict[str, float]]:
    import matplotlib.pyplot as plt

    from scratchgen import data, models, train, viz
    from scratchgen.data import grammar

    print("scratchgen tour: autoregressive models")
    digits = data.load("digits")
    pixelcnn = models.create("pixelcnn", digits.info, seed=seed)
    digit_metrics = train.fit(pixelcnn, digits, progress=False, steps=20 if quick else 400,
                              batch_size=64, lr=0.005, seed=seed, eval_every=10**9)  # fmt: skip
    print(f"  PixelCNN, digits (17 levels): {digit_metrics['test_bpd']:.3f} bits/dim")
    rng = np.random.default_rng(seed)
    samples = pixelcnn.sample(16, rng)
    mask = np.zeros(digits.info.shape, bool)
    mask[:, :4] = True  # the top half is given
    tops = digits.test[:8]
    completed = pixelcnn.sample(8, rng, given=tops, mask=mask)

    text = data.load("grammar")
    lm = models.create("transformer", text.info, seed=seed)
    text_metrics = train.fit(lm, text, progress=False, steps=20 if quick else 600, batch_size=32,
                             lr=0.003, seed=seed, eval_every=10**9)  # fmt: skip
    per_char = text_metrics["test_nll"] / text.info.shape[0]
    text_metrics["kl_gap_per_char"] = per_char - grammar.entropy_rate()
    gap = text_metrics["kl_gap_per_char"]
    print(f"  Transformer, grammar text: {per_char:.3f} nats/char, entropy rate "
          f"{grammar.entropy_rate():.3f}, KL gap {gap:.3f} nats/char")  # fmt: skip
    vocab = text.extras["vocab"]
    prompt = data.encode("the big ", vocab)
    continuation = data.decode(lm.sample(1, rng, given=prompt, top_p=0.9)[0], vocab)
    print(f"  a continuation of 'the big ': {continuation!r}")
    # likelihood as a judge: a grammatical window against the same words out of order
    good = "the big cat sees a fish. a small dog eats the bird. the old dog "
    bad = "cat the big a sees fish. dog small a the eats bird. old the dog "
    with ad.no_grad():
        scores = lm.log_prob(np.stack([data.encode(good, vocab), data.encode(bad, vocab)])).data
    text_metrics["log_p_grammatical_minus_shuffled"] = float(scores[0] - scores[1])
    print(f"  log p(grammatical) - log p(shuffled words) = {scores[0] - scores[1]:.1f} nats")

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
    fig.savefig(out / "autoregressive.png", dpi=90)
    plt.close(fig)
    print(f"  wrote {out / 'autoregressive.png'}")
    return {"pixelcnn/digits": digit_metrics, "transformer/grammar": text_metrics}


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


def _latent(out: Path, seed: int, quick: bool) -> dict[str, dict[str, float]]:
    import matplotlib.pyplot as plt

    from scratchgen import data, models, train, viz

    print("scratchgen tour: latent-variable models on the binary digits (nats per image)")
    digits = data.load("digits_binary")
    trained, results = {}, {}
    for key, name, hparams, steps in LATENT_MODELS:
        model = models.create(name, digits.info, seed=seed, **hparams)
        metrics = train.fit(model, digits, progress=False, steps=30 if quick else steps,
                            batch_size=64, lr=3e-3, seed=seed, eval_every=10**9)  # fmt: skip
        trained[key], results[f"{key}/digits_binary"] = model, metrics
        target = "log p(x, y)" if model.conditional else "log p(x)"  # M2 scores the labels too
        estimate = (f", {target} ~ {-metrics['test_nll']:.2f} (importance sampling, "
                    f"K = {metrics['iwae_samples']})" if "test_nll" in metrics else "")  # fmt: skip
        print(f"  {key:13s} ELBO {metrics['test_elbo']:7.2f}{estimate}")
    print(f"  M2, trained with 10 labels per digit: test accuracy "
          f"{results['m2/digits_binary']['test_accuracy']:.1%}")  # fmt: skip
    print(f"  the VAE uses {trained['vae'].active_units(digits.test)} of its 16 latent "
          f"dimensions; the VQ-VAE's codes have perplexity "
          f"{trained['vqvae'].codebook_usage(digits.test)['perplexity']:.1f} of 16")  # fmt: skip

    eight = data.load("eight_gaussians")
    mixture = models.create("gaussian_mixture", eight.info, components=16, seed=seed)
    mixture.initialize(eight.train, np.random.default_rng(seed))
    history = mixture.fit_em(eight.train, steps=10 if quick else 200)
    em_nll = float(-mixture.log_prob(eight.test).data.mean())
    results["gaussian_mixture_em/eight_gaussians"] = {"test_nll": em_nll,
                                                      "steps": len(history) - 1}  # fmt: skip
    print(f"  EM, 16 Gaussians on eight Gaussians: test NLL {em_nll:.3f} nats after "
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
    fig.savefig(out / "latent.png", dpi=90)
    plt.close(fig)
    print(f"  wrote {out / 'latent.png'}")
    return results


def _engine_demo(out: Path, seed: int, quick: bool) -> dict[str, float]:
    """The MLP on two moons and the Hessian-vector product check; writes tour.png."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    x, y = _two_moons(512, rng)
    params = _init(rng, [2, 32, 32, 1])
    steps, learning_rate = (50 if quick else 1500), 0.5

    print("scratchgen tour: the autodiff engine")
    start = time.perf_counter()
    losses = []
    for step in range(steps):
        loss = _loss(params, x, y)
        grads = ad.grad(loss, params)
        params = [ad.Tensor(p.data - learning_rate * g.data, True) for p, g in zip(params, grads)]
        losses.append(loss.item())
        if step % max(steps // 5, 1) == 0:
            print(f"  step {step:5d}  loss {losses[-1]:.4f} nats")
    seconds = time.perf_counter() - start
    with ad.no_grad():
        accuracy = float(np.mean((_logits(params, x).data > 0) == (y > 0.5)))
    hvp_error = _hvp_check(params, x, y, rng)
    _figure(out / "tour.png", params, x, y, losses)

    print(f"  final loss {losses[-1]:.4f} nats, accuracy {accuracy:.1%}, {seconds:.1f} s")
    print(f"  Hessian-vector product: double backward vs finite differences, rel. error "
          f"{hvp_error:.1e}")  # fmt: skip
    print(f"  wrote {out / 'tour.png'}")
    return {"loss": losses[-1], "accuracy": accuracy, "hvp_rel_error": hvp_error}
