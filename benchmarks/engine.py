"""The engine's overhead and its BLAS-bound throughput.

1. Per-op overhead: a chain of 200 small elementwise ops (mul, add, tanh, sin on 16 floats),
   forward + backward, divided by 200. Bare NumPy runs the same forward only: it is the floor.
2. One training step of an MLP 784-512-512-784 (ReLU, mean squared error), batch 128, float32:
   forward + backward. NumPy runs the same step with hand-written gradients.
"""

from __future__ import annotations

import numpy as np

import autodiff as ad
from benchmarks.timing import Row, seconds_per_call

CHAIN = 200


def _chain(x, tanh, sin):
    """200 small ops cycling through mul, add, tanh, sin; the same code runs on our Tensors,
    on ndarrays and on torch tensors, given that library's tanh and sin."""
    y = x
    for i in range(CHAIN):
        kind = i % 4
        if kind == 0:
            y = y * 1.001
        elif kind == 1:
            y = y + 0.01
        else:
            y = tanh(y) if kind == 2 else sin(y)
    return y.sum()


def _chain_input() -> np.ndarray:
    return np.linspace(-1, 1, 16)


def per_op_overhead() -> Row:
    data = _chain_input()
    x = ad.Tensor(data, requires_grad=True)
    ours = seconds_per_call(lambda: ad.grad(_chain(x, ad.tanh, ad.sin), x)) / CHAIN
    numpy = seconds_per_call(lambda: _chain(data, np.tanh, np.sin)) / CHAIN
    return Row(PER_OP, ours, numpy)


def _mlp_weights(rng: np.random.Generator) -> list[np.ndarray]:
    sizes = [784, 512, 512, 784]
    weights = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        weights.append(
            (rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(np.float32)
        )
        weights.append(np.zeros(fan_out, np.float32))
    return weights


def _mlp_numpy_step(x: np.ndarray, w: list[np.ndarray]) -> list[np.ndarray]:
    """Forward and hand-derived backward of mean((MLP(x) - x)^2)."""
    W1, b1, W2, b2, W3, b3 = w
    a1 = x @ W1 + b1
    h1 = np.maximum(a1, 0)
    a2 = h1 @ W2 + b2
    h2 = np.maximum(a2, 0)
    out = h2 @ W3 + b3
    d = out - x
    g_out = d * np.float32(2.0 / d.size)
    g_h2 = g_out @ W3.T
    g_a2 = g_h2 * (a2 > 0)
    g_h1 = g_a2 @ W2.T
    g_a1 = g_h1 * (a1 > 0)
    return [x.T @ g_a1, g_a1.sum(0), h1.T @ g_a2, g_a2.sum(0), h2.T @ g_out, g_out.sum(0)]


def _mlp_loss(params, x, relu):
    """mean((MLP(x) - x)^2), for our Tensors or torch tensors given that library's relu."""
    W1, b1, W2, b2, W3, b3 = params
    h = relu(x @ W1 + b1)
    h = relu(h @ W2 + b2)
    d = h @ W3 + b3 - x
    return (d * d).mean()


def _mlp_problem() -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 784)).astype(np.float32)
    return x, _mlp_weights(rng)


def mlp_step() -> Row:
    x, weights = _mlp_problem()
    params = [ad.Tensor(w, requires_grad=True) for w in weights]
    xt = ad.Tensor(x)

    def ours_step():
        return ad.grad(_mlp_loss(params, xt, ad.relu), params)

    for ours_g, numpy_g in zip(ours_step(), _mlp_numpy_step(x, weights)):
        assert ours_g.dtype == np.float32
        np.testing.assert_allclose(ours_g.data, numpy_g, rtol=1e-3, atol=1e-6)
    ours = seconds_per_call(ours_step)
    numpy = seconds_per_call(lambda: _mlp_numpy_step(x, weights))
    flops = 2 * 128 * (784 * 512 + 512 * 512 + 512 * 784) * 3 - 2 * 128 * 784 * 512  # no dx
    return Row(MLP, ours, numpy, flops=flops)


PER_OP = "per-op overhead, fwd+bwd (numpy: fwd only)"
MLP = "MLP 784-512-512-784 step, batch 128, f32"


def measure() -> list[Row]:
    return [per_op_overhead(), mlp_step()]


def torch_times(torch) -> dict[str, float]:
    """The same computations in PyTorch (run in a process of its own)."""
    xt = torch.tensor(_chain_input(), requires_grad=True)
    chain = seconds_per_call(lambda: torch.autograd.grad(_chain(xt, torch.tanh, torch.sin), xt))
    x, weights = _mlp_problem()
    tw = [torch.tensor(w, requires_grad=True) for w in weights]
    tx = torch.tensor(x)
    mlp = seconds_per_call(lambda: torch.autograd.grad(_mlp_loss(tw, tx, torch.relu), tw))
    return {PER_OP: chain / CHAIN, MLP: mlp}
