"""Fitting an unnormalised 2-D density by reverse KL with a flow (Rezende & Mohamed,
"Variational Inference with Normalizing Flows", 2015, section 6.1, table 1, figure 3).

For a target p(z) = exp(-U(z)) / Z known up to Z, push z_0 ~ q_0 = N(0, I) through the flow,
z_K = f(z_0), and minimise the free energy

    F = E_{z_0 ~ q_0}[ log q_0(z_0) - log |det df/dz_0| + beta_t U(z_K) ]
      = KL(q_K || p) - log Z                         (at beta_t = 1)

so that F + log Z >= 0, with equality when q_K = p. Only samples of q_K and their densities are
needed, never the inverse, which is why planar flows serve. beta_t anneals from 0.01 to 1 over
the first ``anneal`` steps, as in their section 6.1, so the flow spreads before it commits.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen import bijections as B
from scratchgen import optim


def _w1(z: Tensor) -> Tensor:
    return ad.sin(2 * np.pi * z[:, 0] / 4)


def _w2(z: Tensor) -> Tensor:
    return 3 * ad.exp(-0.5 * ((z[:, 0] - 1) / 0.6) ** 2)


def _w3(z: Tensor) -> Tensor:
    return 3 * ad.sigmoid((z[:, 0] - 1) / 0.3)


def _neg_log_two_bumps(a: Tensor, b: Tensor) -> Tensor:
    """-log(exp(-a^2 / 2) + exp(-b^2 / 2)), stably."""
    return -ad.logsumexp(ad.stack([-0.5 * a**2, -0.5 * b**2], axis=1), axis=1)


def u1(z: Tensor) -> Tensor:
    """A ring with two lobes."""
    radius = ad.sqrt(ad.sum(z * z, axis=1))
    return 0.5 * ((radius - 2) / 0.4) ** 2 + _neg_log_two_bumps((z[:, 0] - 2) / 0.6,
                                                                  (z[:, 0] + 2) / 0.6)  # fmt: skip


def u2(z: Tensor) -> Tensor:
    """A sine wave."""
    return 0.5 * ((z[:, 1] - _w1(z)) / 0.4) ** 2


def u3(z: Tensor) -> Tensor:
    """Two sine waves that part."""
    return _neg_log_two_bumps((z[:, 1] - _w1(z)) / 0.35, (z[:, 1] - _w1(z) + _w2(z)) / 0.35)


def u4(z: Tensor) -> Tensor:
    """A sine wave that splits in two."""
    return _neg_log_two_bumps((z[:, 1] - _w1(z)) / 0.4, (z[:, 1] - _w1(z) + _w3(z)) / 0.35)


POTENTIALS: dict[str, Callable[[Tensor], Tensor]] = {"U1": u1, "U2": u2, "U3": u3, "U4": u4}


def planar_flow(length: int, rng: np.random.Generator, dtype=np.float64) -> B.Compose:
    """``length`` planar layers on R^2."""
    return B.Compose(B.Planar(2, rng=rng, dtype=dtype) for _ in range(length))


def free_energy(flow: B.Bijection, potential: Callable[[Tensor], Tensor], z0: np.ndarray,
                beta: float = 1.0) -> Tensor:  # fmt: skip
    """F = mean of log q_0(z_0) - log |det df/dz_0| + beta U(f(z_0)) over the draws z_0."""
    log_q0 = -0.5 * np.sum(z0**2, axis=1) - np.log(2 * np.pi)
    zK, log_qK = B.push_forward(flow, ad.Tensor(z0), ad.Tensor(log_q0))
    return ad.mean(log_qK + beta * potential(zK))


def fit_reverse_kl(potential: Callable[[Tensor], Tensor], flow: B.Bijection, steps: int,
                   rng: np.random.Generator, batch: int = 256, lr: float = 1e-2,
                   anneal: int | None = None) -> list[float]:  # fmt: skip
    """Minimise F by Adam on fresh draws z_0 each step; returns F per step (at beta_t)."""
    anneal = steps // 2 if anneal is None else anneal
    optimizer = optim.Adam(list(flow.parameters()), lr)
    history = []
    for step in range(steps):
        beta = min(1.0, 0.01 + step / anneal) if anneal else 1.0
        loss = free_energy(flow, potential, rng.standard_normal((batch, 2)), beta)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    return history


def log_normaliser(
    potential: Callable[[Tensor], Tensor], half_width: float = 6.0, cells: int = 600
) -> float:
    """log Z = log int exp(-U) by the midpoint rule on [-w, w]^2: the floor of F."""
    edges = np.linspace(-half_width, half_width, cells + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    grid = np.stack(np.meshgrid(centres, centres, indexing="ij"), -1).reshape(-1, 2)
    with ad.no_grad():
        minus_u = -potential(ad.Tensor(grid)).data
    top = minus_u.max()
    return float(top + np.log(np.sum(np.exp(minus_u - top))) + 2 * np.log(edges[1] - edges[0]))
