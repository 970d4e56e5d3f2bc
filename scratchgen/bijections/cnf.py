"""The continuous normalising flow (Chen, Rubanova, Bettencourt & Duvenaud, "Neural Ordinary
Differential Equations", 2018; FFJORD, Grathwohl et al. 2019).

The map from data x = x(0) to latent z = x(T) is the solution of an ODE, and the log-density
along it obeys the instantaneous change of variables (Chen et al. 2018, theorem 1):

    dx/dt = f(x(t), t),        d log p(x(t)) / dt = -Tr(df/dx(t))

so    log p(x) = log p_Z(z) + int_0^T Tr(df/dx(t)) dt,   i.e. log |det dz/dx| = int_0^T Tr dt.

The trace costs D backward passes exactly (``exact_trace``, from ``scratchgen.traces``);
Hutchinson's estimator Tr(A) = E[eps^T A eps] for any eps with E[eps eps^T] = I costs one
(``hutchinson_trace``, FFJORD section 3.1), with eps drawn once per solve and held along
the trajectory.

The ODE is integrated by fixed-step RK4 (``rk4``, differentiable: training backpropagates
through its steps) or, for evaluation, by scipy's adaptive Runge-Kutta (``solve_adaptive``).
``gradient="adjoint"`` trains by the adjoint method instead (Chen et al. 2018, section 2):
with a(t) = dL/dx(t) and the augmented dynamics g = (f, Tr), solve backwards from T to 0

    da/dt = -a^T dg/dx,        dL/dtheta = int_0^T a^T dg/dtheta dt

re-computing x(t) backwards alongside, so memory does not grow with the number of steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.bijections.base import Bijection, Pair
from scratchgen.nn import Linear, Module, ModuleList
from scratchgen.traces import exact_trace, hutchinson_trace


class Dynamics(Module):
    """f(x, t): an MLP of [x, t] with tanh activations (smooth, so the ODE is well posed)."""

    def __init__(self, features: int, hidden: Sequence[int] = (64, 64), *,
                 rng: np.random.Generator, dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        sizes = [features + 1, *hidden, features]
        self.layers = ModuleList(Linear(a, b, rng=rng, dtype=dtype)
                                 for a, b in zip(sizes[:-1], sizes[1:]))  # fmt: skip

    def forward(self, x: Tensor, t: float) -> Tensor:
        h = ad.concatenate([x, ad.Tensor(np.full((x.shape[0], 1), t, dtype=x.dtype))], axis=1)
        for index, layer in enumerate(self.layers):
            h = layer(h)
            if index < len(self.layers) - 1:
                h = ad.tanh(h)
        return h


def rk4(g: Callable[[Sequence[Tensor], float], Sequence[Tensor]], state: Sequence[Tensor],
        t0: float, t1: float, steps: int) -> list[Tensor]:  # fmt: skip
    """Classical fourth-order Runge-Kutta with ``steps`` equal steps from t0 to t1 (t1 < t0
    integrates backwards) for a state that is a list of Tensors."""
    h = (t1 - t0) / steps
    state = list(state)

    def moved(base, slopes, scale):
        return [s + scale * k for s, k in zip(base, slopes)]

    for step in range(steps):
        t = t0 + step * h
        k1 = g(state, t)
        k2 = g(moved(state, k1, h / 2), t + h / 2)
        k3 = g(moved(state, k2, h / 2), t + h / 2)
        k4 = g(moved(state, k3, h), t + h)
        state = [s + (h / 6) * (a + 2 * b + 2 * c + d)
                 for s, a, b, c, d in zip(state, k1, k2, k3, k4)]  # fmt: skip
    return state


class ContinuousFlow(Bijection):
    """forward: x(0) = x to z = x(T) with log |det dz/dx| = int_0^T Tr(df/dx) dt; inverse: the
    same ODE backwards. See the module docstring."""

    def __init__(self, dynamics: Module, time: float = 1.0, steps: int = 8,
                 trace: Literal["exact", "hutchinson"] = "exact",
                 noise: Literal["gaussian", "rademacher"] = "gaussian",
                 gradient: Literal["backprop", "adjoint"] = "backprop",
                 rng: np.random.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        self.dynamics, self.time, self.steps = dynamics, float(time), int(steps)
        self.trace, self.noise, self.gradient = trace, noise, gradient
        self.rng = rng or np.random.default_rng(0)

    # ------------------------------------------------------------------ the augmented ODE
    def _eps(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray | None:
        if self.trace == "exact":
            return None
        if self.noise == "rademacher":
            return self.rng.choice(np.array([-1.0, 1.0]), size=shape).astype(dtype)
        return self.rng.standard_normal(shape).astype(dtype)

    def velocity_and_trace(self, x: Tensor, t: float, eps: np.ndarray | None,
                           create_graph: bool) -> tuple[Tensor, Tensor]:  # fmt: skip
        """(f(x, t), Tr(df/dx)) with the trace exact or Hutchinson's (for that eps)."""
        with ad.enable_grad():
            if not x.requires_grad:
                x = ad.Tensor(x.data, requires_grad=True)
            f = self.dynamics(x, t)
            if eps is None:
                trace = exact_trace(f, x, create_graph)
            else:
                trace = hutchinson_trace(f, x, eps, create_graph)
        if not create_graph:
            return f.detach(), trace.detach()
        return f, trace

    def _solve(self, h: Tensor, inverse: bool, eps: np.ndarray | None) -> Pair:
        create_graph = ad.is_grad_enabled()

        def g(state, t):
            return self.velocity_and_trace(state[0], t, eps, create_graph)

        t0, t1 = (self.time, 0.0) if inverse else (0.0, self.time)
        zero = ad.Tensor(np.zeros(h.shape[0], dtype=h.dtype))
        out, integral = rk4(g, [h, zero], t0, t1, self.steps)
        return out, integral  # backwards, the integral of Tr dt is already -int_0^T

    def forward(self, x: Tensor, context: Any = None) -> Pair:
        eps = self._eps(x.shape, x.dtype)
        if self.gradient == "adjoint" and ad.is_grad_enabled():
            return _adjoint_solve(self, x, eps)
        return self._solve(x, inverse=False, eps=eps)

    def inverse(self, z: Tensor, context: Any = None) -> Pair:
        return self._solve(z, inverse=True, eps=self._eps(z.shape, z.dtype))

    def trajectory(self, h: np.ndarray, inverse: bool = False) -> list[np.ndarray]:
        """The states of the solve at each of its RK4 steps, the start included: from data to
        latent, or with ``inverse`` from latent to data (the frames of a flow's animation)."""
        dt = self.time / self.steps
        frames = [np.asarray(h)]
        with ad.no_grad():
            state = ad.Tensor(np.asarray(h))
            for k in range(self.steps):
                t0 = self.time - k * dt if inverse else k * dt
                t1 = t0 - dt if inverse else t0 + dt
                state = rk4(lambda s, t: [self.dynamics(s[0], t)], [state], t0, t1, 1)[0]
                frames.append(state.data)
        return frames

    # ------------------------------------------------------------------ evaluation
    def solve_adaptive(self, x: np.ndarray, inverse: bool = False, rtol: float = 1e-6,
                       atol: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """(z, log |det dz/dx|) (or the inverse's pair) by scipy's adaptive RK45 on the
        augmented state, with the exact trace, in float64: the evaluation-time solve."""
        from scipy.integrate import solve_ivp

        n, D = x.shape
        dtype = self.dynamics.layers[0].weight.dtype

        def rhs(t, flat):
            state = ad.Tensor(flat[: n * D].reshape(n, D).astype(dtype))
            f, trace = self.velocity_and_trace(state, float(t), None, create_graph=False)
            return np.concatenate([f.data.ravel(), trace.data]).astype(np.float64)

        start = np.concatenate([np.asarray(x, np.float64).ravel(), np.zeros(n)])
        span = (self.time, 0.0) if inverse else (0.0, self.time)
        solution = solve_ivp(rhs, span, start, rtol=rtol, atol=atol)
        end = solution.y[:, -1]
        return end[: n * D].reshape(n, D), end[n * D :]

    def adjoint_gradients(
        self, x: np.ndarray, grad_z: np.ndarray, grad_logdet: np.ndarray,
        eps: np.ndarray | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:  # fmt: skip
        """dL/dx and dL/dtheta (one array per parameter) for a loss L(z, logdet) with the given
        gradients at the end of ``forward``, by the adjoint ODE solved backwards with the same
        RK4 steps (module docstring)."""
        params = list(self.dynamics.parameters())
        with ad.no_grad():
            z, _ = self._solve(ad.Tensor(x), inverse=False, eps=eps)
        a_logdet = ad.Tensor(np.asarray(grad_logdet, dtype=x.dtype))

        def g(state, t):
            h, a = state[0], state[1]
            with ad.enable_grad():
                leaf = ad.Tensor(h.data, requires_grad=True)
                f, trace = self.velocity_and_trace(leaf, t, eps, create_graph=True)
                scalar = ad.sum(f * a) + ad.sum(trace * a_logdet)
                grads = ad.grad(scalar, [leaf, *params], allow_unused=True)
            vjps = [ad.Tensor(np.zeros_like(p.data)) if q is None else q.detach()
                    for p, q in zip(params, grads[1:])]  # fmt: skip
            return [f.detach(), -grads[0].detach(), *(-v for v in vjps)]

        start = [z, ad.Tensor(np.asarray(grad_z, dtype=x.dtype))]
        start += [ad.Tensor(np.zeros_like(p.data)) for p in params]
        with ad.no_grad():
            end = rk4(g, start, self.time, 0.0, self.steps)
        return end[1].data, [a.data for a in end[2:]]


def _adjoint_solve(flow: ContinuousFlow, x: Tensor, eps: np.ndarray | None) -> Pair:
    """forward's (z, logdet) with gradients by the adjoint method: a primitive of x and of the
    dynamics' parameters, flattened into one vector, whose VJP is ``adjoint_gradients``."""
    params = list(flow.dynamics.parameters())
    n, D = x.shape
    theta = ad.concatenate([ad.reshape(p, (-1,)) for p in params])

    def forward(x_array: np.ndarray, theta_array: np.ndarray) -> np.ndarray:
        with ad.no_grad():
            z, logdet = flow._solve(ad.Tensor(x_array), inverse=False, eps=eps)
        return np.concatenate([z.data, logdet.data[:, None]], axis=1)

    def vjp(which: int):
        def backward(g: Tensor, ans: Tensor, x_in: Tensor, theta_in: Tensor) -> Tensor:
            dx, dparams = flow.adjoint_gradients(x_in.data, g.data[:, :D], g.data[:, D], eps)
            if which == 0:
                return ad.Tensor(dx)
            return ad.Tensor(np.concatenate([d.ravel() for d in dparams]))

        return backward

    solve = ad.primitive(forward, name="cnf_adjoint")
    solve.defvjp(vjp(0), vjp(1))
    out = solve(x, theta)
    return out[:, :D], out[:, D]
