"""Flow matching: learn a velocity field v_theta(x, t) whose flow carries a source p_0 (noise) at
t = 0 to the data p_1 at t = 1, by regression on the velocity of a conditional path.

For each pair (x0, x1) drawn from a coupling pi(x0, x1), a path x_t from x0 to x1 has a known
velocity u_t(x_t | x0, x1). The marginal field u_t(x) = E[u_t | x_t = x] generates the marginal
path from p_0 to p_1, and the conditional flow matching loss

    L_CFM = E_{t ~ U(0, 1), (x0, x1) ~ pi} || v_theta(x_t, t) - u_t(x_t | x0, x1) ||^2

has the same gradient as the intractable || v_theta - u_t(x) ||^2 (Lipman et al. 2023,
"Flow Matching for Generative Modeling", theorem 2): its minimiser is the marginal field.

Two paths:

- ``"lipman"``, the optimal-transport path of Lipman et al. (2023, eqs. 20-23) from Gaussian
  noise: x_t = (1 - (1 - sigma_min) t) x0 + t x1, u_t = x1 - (1 - sigma_min) x0; at t = 1 a
  Gaussian of width sigma_min around x1.
- ``"tong"``, the path of Tong et al. (2024, "Improving and generalizing flow-based generative
  models with minibatch optimal transport", eqs. 14-15) between any two samples:
  x_t = t x1 + (1 - t) x0 + sigma eps, u_t = x1 - x0, eps ~ N(0, I), a constant width sigma.

Two couplings: the independent one, pi = p_0 x p_1 (I-CFM), and minibatch optimal transport
(OT-CFM, Tong et al. 2024, section 3.2): within each batch the pairs are matched by the exact
assignment that minimises sum_i ||x0_i - x1_sigma(i)||^2 (``minibatch_ot``), which makes the
paths cross less and the learned flow straighter. Rectified flow (Liu et al. 2023) is the same
loss on the coupling of a trained flow's own pairs (x0, x1 = flow(x0)), with sigma = 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

import autodiff as ad
from autodiff import Tensor

Array = np.ndarray
Path = Literal["lipman", "tong"]
PATHS = ("lipman", "tong")


def conditional_path(x0: Array, x1: Array, t: Array, sigma: float, path: Path,
                     rng: np.random.Generator) -> tuple[Array, Array]:  # fmt: skip
    """(x_t, u_t(x_t | x0, x1)) for pairs of examples (n, ...) at times t (n,); ``rng`` draws
    the ``"tong"`` path's eps."""
    if path not in PATHS:
        raise ValueError(f"conditional_path: path must be one of {PATHS}, got {path!r}")
    if x0.shape != x1.shape or t.shape != (len(x0),):
        raise ValueError(f"conditional_path: x0 {x0.shape} and x1 {x1.shape} must match, and t "
                         f"{t.shape} give one time per example")  # fmt: skip
    t = t.reshape((-1,) + (1,) * (x0.ndim - 1))
    if path == "lipman":
        return (1 - (1 - sigma) * t) * x0 + t * x1, x1 - (1 - sigma) * x0
    eps = rng.standard_normal(x0.shape)
    return t * x1 + (1 - t) * x0 + sigma * eps, x1 - x0


def minibatch_ot(x0: Array, x1: Array) -> Array:
    """The permutation sigma of x1's examples that pairs x0_i with x1_sigma(i) at least total
    squared distance: the exact optimal transport plan between the two batches as uniform
    empirical measures (an assignment problem, solved by ``linear_sum_assignment``)."""
    if len(x0) != len(x1):
        raise ValueError(f"minibatch_ot: the batches must be as large, got {len(x0)} and "
                         f"{len(x1)}")  # fmt: skip
    a, b = x0.reshape(len(x0), -1), x1.reshape(len(x1), -1)
    cost = (a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None, :]
    rows, columns = linear_sum_assignment(cost)
    return columns[np.argsort(rows)]


def flow_matching_loss(velocity: Callable[[Tensor, Array], Tensor], x0: Array, x1: Array,
                       t: Array, sigma: float, path: Path,
                       rng: np.random.Generator) -> Tensor:  # fmt: skip
    """L_CFM on one batch of pairs: the mean over examples and numbers of
    (v_theta(x_t, t) - u_t)^2, a scalar Tensor differentiable in v's parameters."""
    x_t, u_t = conditional_path(x0, x1, t, sigma, path, rng)
    v = velocity(Tensor(x_t), t)
    error = v - Tensor(u_t.astype(v.dtype))
    return ad.mean(error * error)


def path_energy(velocity: Callable[[Array, Array], Array], x0: Array, steps: int = 100) -> float:
    """E int_0^1 ||v(x_t, t)||^2 dt along the flow from x0, by Euler's method: the kinetic
    energy that a straight, optimal-transport flow minimises (Tong et al. 2024, table 2)."""
    x, h, total = np.array(x0, dtype=np.float64), 1.0 / steps, 0.0
    for i in range(steps):
        v = np.asarray(velocity(x, np.full(len(x), i * h)), dtype=np.float64)
        total += h * float(np.mean(np.sum(v.reshape(len(x), -1) ** 2, axis=1)))
        x = x + h * v
    return total
