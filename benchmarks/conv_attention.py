"""The Numba kernels in float32: convolutions and attention, forward and forward + backward.

Shapes are those of issue 3: conv2d (a) N=32, 64->64, 28x28, k=3; (b) N=32, 1->64, 28x28, k=7;
(c) N=32, 64->128, 16x16, k=3; (d) N=128, 32->32, 8x8, k=3; conv_transpose2d N=32, 128->64,
8x8 -> 16x16, k=4, stride 2; attention B=32, H=4, T=128, d=32 and B=8, H=4, T=512, d=64.
"forward + backward" is the forward and both gradients (input and weight; q, k and v). The
NumPy column is the plain reference's forward. The roofline is float32 GEMM through NumPy's BLAS.
"""

from __future__ import annotations

import numpy as np

from benchmarks.timing import Row, seconds_per_call
from kernels import attention as attn
from kernels import attention_reference as attn_ref
from kernels import conv
from kernels import conv_reference as conv_ref

CONVS = {  # name: (N, C_in, C_out, H, k, padding)
    "(a) 32x64->64 28x28 k3": (32, 64, 64, 28, 3, 1),
    "(b) 32x1->64 28x28 k7": (32, 1, 64, 28, 7, 3),
    "(c) 32x64->128 16x16 k3": (32, 64, 128, 16, 3, 1),
    "(d) 128x32->32 8x8 k3": (128, 32, 32, 8, 3, 1),
}
ATTENTIONS = {  # name: (B, H, T, d, causal)
    "B32 H4 T128 d32": (32, 4, 128, 32, False),
    "B32 H4 T128 d32 causal": (32, 4, 128, 32, True),
    "B8 H4 T512 d64": (8, 4, 512, 64, False),
    "B8 H4 T512 d64 causal": (8, 4, 512, 64, True),
}
CONV_T = "conv_transpose2d 32x128->64 8->16 k4 s2"


def _arrays(*shapes: tuple[int, ...]) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


def _conv_problem(name: str):
    n, c_in, c_out, h, k, pad = CONVS[name]
    x, w, g = _arrays((n, c_in, h, h), (c_out, c_in, k, k), (n, c_out, h, h))
    return x, w, g, pad, 2 * n * c_out * c_in * k * k * h * h


def _conv_t_problem():
    return _arrays((32, 128, 8, 8), (128, 64, 4, 4), (32, 64, 16, 16))


def _attention_problem(name: str):
    b, h, t, d, causal = ATTENTIONS[name]
    q, k, v, g = _arrays(*[(b, h, t, d)] * 4)
    flops = 4 * b * h * t * t * d * (0.5 if causal else 1)  # the two products of the forward
    return q, k, v, g, causal, flops


def gemm_roofline() -> float:
    """float32 GEMM GFLOP/s through NumPy's BLAS: the most any of these kernels could do."""
    a, b = _arrays((2048, 2048), (2048, 2048))
    return 2 * 2048**3 / seconds_per_call(lambda: a @ b) / 1e9


def _conv_rows(name: str) -> list[Row]:
    x, w, g, pad, flops = _conv_problem(name)

    def both():
        conv.conv2d(x, w, 1, pad)
        conv.conv2d_input_grad(g, w, x.shape, 1, pad)
        conv.conv2d_weight_grad(x, g, w.shape, 1, pad)

    forward = seconds_per_call(lambda: conv.conv2d(x, w, 1, pad))
    reference = seconds_per_call(lambda: conv_ref.conv2d_reference(x, w, 1, pad), repeats=3)
    return [Row(f"conv2d {name} fwd", forward, reference, flops=flops),
            Row(f"conv2d {name} fwd+bwd", seconds_per_call(both), flops=3 * flops)]  # fmt: skip


def _conv_t_rows() -> list[Row]:
    x, w, g = _conv_t_problem()
    flops = 2 * 32 * 128 * 64 * 16 * 8 * 8

    def both():
        conv.conv_transpose2d(x, w, 2, 1)
        conv.conv2d(g, w, 2, 1)
        conv.conv2d_weight_grad(g, x, w.shape, 2, 1)

    forward = seconds_per_call(lambda: conv.conv_transpose2d(x, w, 2, 1))
    reference = seconds_per_call(lambda: conv_ref.conv_transpose2d_reference(x, w, 2, 1), repeats=3)
    return [Row(f"{CONV_T} fwd", forward, reference, flops=flops),
            Row(f"{CONV_T} fwd+bwd", seconds_per_call(both), flops=3 * flops)]  # fmt: skip


def _attention_rows(name: str) -> list[Row]:
    q, k, v, g, causal, flops = _attention_problem(name)

    def both():
        out, lse = attn.attention(q, k, v, causal)
        attn.attention_backward(q, k, v, out, lse, g, causal)

    forward = seconds_per_call(lambda: attn.attention(q, k, v, causal))
    reference = seconds_per_call(lambda: attn_ref.attention_reference(q, k, v, causal))
    # backward does five products to the forward's two: 3.5 times the forward's work in all
    return [
        Row(f"attention {name} fwd", forward, reference, flops=flops),
        Row(f"attention {name} fwd+bwd", seconds_per_call(both), flops=3.5 * flops),
    ]


def measure() -> list[Row]:
    rows = [row for name in CONVS for row in _conv_rows(name)] + _conv_t_rows()
    return rows + [row for name in ATTENTIONS for row in _attention_rows(name)]


def _torch_pair(label: str, forward, inputs) -> dict[str, float]:
    """PyTorch's forward time, and forward + gradients for every input."""
    import torch

    def both():
        out = forward()
        torch.autograd.grad(out, inputs, torch.ones_like(out))

    return {f"{label} fwd": seconds_per_call(forward), f"{label} fwd+bwd": seconds_per_call(both)}


def _torch_conv(torch, name: str) -> dict[str, float]:
    x, w, _, pad, _ = _conv_problem(name)
    xt, wt = (torch.tensor(a, requires_grad=True) for a in (x, w))
    return _torch_pair(f"conv2d {name}", lambda: torch.nn.functional.conv2d(xt, wt, padding=pad),
                       [xt, wt])  # fmt: skip


def _torch_conv_t(torch) -> dict[str, float]:
    x, w, _ = _conv_t_problem()
    xt, wt = (torch.tensor(a, requires_grad=True) for a in (x, w))
    return _torch_pair(
        CONV_T, lambda: torch.nn.functional.conv_transpose2d(xt, wt, stride=2, padding=1), [xt, wt]
    )


def _torch_attention(torch, name: str) -> dict[str, float]:
    q, k, v, _, causal, _ = _attention_problem(name)
    qt, kt, vt = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    sdpa = torch.nn.functional.scaled_dot_product_attention
    return _torch_pair(
        f"attention {name}", lambda: sdpa(qt, kt, vt, is_causal=causal), [qt, kt, vt]
    )


def torch_times(torch) -> dict[str, float]:
    """The same computations with torch.nn.functional (run in a process of its own)."""
    times = _torch_conv_t(torch)
    for name in CONVS:
        times.update(_torch_conv(torch, name))
    for name in ATTENTIONS:
        times.update(_torch_attention(torch, name))
    return times
