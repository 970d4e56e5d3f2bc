"""The engine: a two-layer MLP classifier trained on two moons by plain gradient descent, every
gradient from ``autodiff.grad``, and a Hessian-vector product of the same loss,
H v = d/dtheta <grad L(theta), v>, checked against a finite difference of gradients
(``tour.png``: the decision boundary and the loss curve)."""

from __future__ import annotations

import time

import numpy as np

import autodiff as ad
from scratchgen.tour.report import SectionReport
from scratchgen.tour.section import Section


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


def _figure(params, x, y, losses: list[float]):
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
    return fig


def run(report: SectionReport, seed: int, quick: bool) -> None:
    rng = np.random.default_rng(seed)
    x, y = _two_moons(512, rng)
    params = _init(rng, [2, 32, 32, 1])
    steps, learning_rate = (50 if quick else 1500), 0.5

    start = time.perf_counter()
    losses = []
    for step in range(steps):
        loss = _loss(params, x, y)
        grads = ad.grad(loss, params)
        params = [ad.Tensor(p.data - learning_rate * g.data, True) for p, g in zip(params, grads)]
        losses.append(loss.item())
        if step % max(steps // 5, 1) == 0:
            report.say(f"step {step:5d}  loss {losses[-1]:.4f} nats")
    seconds = time.perf_counter() - start
    with ad.no_grad():
        accuracy = float(np.mean((_logits(params, x).data > 0) == (y > 0.5)))
    hvp_error = _hvp_check(params, x, y, rng)
    report.say(f"final loss {losses[-1]:.4f} nats, accuracy {accuracy:.1%}, {seconds:.1f} s")
    report.say(f"Hessian-vector product: double backward vs finite differences, rel. error "
               f"{hvp_error:.1e}")  # fmt: skip
    report.figure(_figure(params, x, y, losses), "tour.png",
                  "An MLP trained on two moons by autodiff.grad: p(y = 1 | x) and the loss",
                  dpi=100)  # fmt: skip
    report.metrics["engine"] = {"loss": losses[-1], "accuracy": accuracy,
                                "hvp_rel_error": hvp_error}  # fmt: skip


SECTION = Section(
    name="engine",
    title="The autodiff engine",
    summary="Gradients and a Hessian-vector product from our own reverse-mode engine.",
    tutorial="00_autodiff.py",
    budget=5,
    run=run,
)
