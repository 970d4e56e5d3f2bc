"""Cold compilation of every kernel, then loading it from Numba's on-disk cache.

Two fresh processes share an empty NUMBA_CACHE_DIR: the first makes one tiny call of every
public function in float32 and in float64, compiling whatever each dtype reaches (the direct
convolution loop, its tiles, the attention loop and GELU/SiLU are compiled for float32 alone:
float64 convolutions take im2col, float64 attention and activations NumPy code), the second
finds them cached. Each prints its own time from before ``import kernels`` to the last call.
Issue 3's target: under 20 s cold in total.
Run: python -m benchmarks.compile
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

CALLS = """
import time
start = time.perf_counter()
import numpy as np
import kernels
from kernels import activations, attention, conv, nade, normalization
for dtype in (np.float32, np.float64):
    x, w = np.ones((2, 4, 5, 5), dtype), np.ones((3, 4, 3, 3), dtype)
    out, columns = conv.conv2d_keeping_columns(x, w, padding=1)
    conv.conv2d_input_grad(out, w, x.shape, padding=1)
    conv.conv2d_weight_grad(x, out, w.shape, padding=1, columns=columns)
    conv.conv_transpose2d(out, np.ones((3, 2, 4, 4), dtype), stride=2, padding=1)
    conv.conv1d(x[:, :, 0], w[:, :, 0], padding=(2, 0), dilation=1)
    wide, w8 = np.ones((1, 8, 5, 5), dtype), np.ones((8, 8, 3, 3), dtype)  # the direct loop
    out8 = conv.conv2d(wide, w8, padding=1)
    conv.conv2d_input_grad(out8, w8, wide.shape, padding=1)
    conv.conv2d_weight_grad(wide, out8, w8.shape, padding=1)
    w32 = np.ones((32, 8, 3, 3), dtype)  # the tiles (32 output channels)
    out32 = conv.conv2d(wide, w32, padding=1)
    conv.conv2d_weight_grad(wide, out32, w32.shape, padding=1)
    q = np.ones((1, 2, 5, 4), dtype)
    o, lse = attention.attention(q, q, q, causal=True)
    attention.attention_backward(q, q, q, o, lse, o, causal=True)
    v, W, c, V, b = np.ones((2, 3), dtype), np.ones((4, 3), dtype), np.ones(4, dtype), \\
        np.ones((3, 4), dtype), np.ones(3, dtype)
    nade.nade_logits_grad(v, W, c, V, b, nade.nade_logits(v, W, c, V, b))
    grouped = x.reshape(2, 2, 2, 25)
    for shape in ((2, 2, 1), (2, 2, 25)):  # one weight per channel, and one per position
        affine = np.ones(shape, dtype)
        y, mean, rstd = normalization.normalise(grouped, affine, affine, 1e-5)
        normalization.normalise_grad(grouped, affine, y, mean, rstd)
for kind in activations.KINDS:  # float32 alone, as the exp inside them
    activations.activation_grad(kind, np.ones(3, np.float32), activations.activation(
        kind, np.ones(3, np.float32)))
print(time.perf_counter() - start)
"""


def _seconds(cache: str) -> float:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    result = subprocess.run([sys.executable, "-c", CALLS], env=env, capture_output=True,
                            text=True, check=True)  # fmt: skip
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        cold, cached = _seconds(cache), _seconds(cache)
    print("every kernel, float32 and float64, one call each (import included)")
    print(f"  cold (compiling):     {cold:6.2f} s   target < 20 s")
    print(f"  from Numba's cache:   {cached:6.2f} s")


if __name__ == "__main__":
    main()
