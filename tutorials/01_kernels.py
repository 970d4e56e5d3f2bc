# %% [markdown]
# # 01 · Convolution and attention, from their sums to fast kernels
#
# The two operations that carry most of the arithmetic in this course are the convolution
# (PixelCNN, WaveNet, every image VAE, GAN and diffusion model) and attention (Transformers).
# This tutorial writes each as its defining sum, derives its gradients, and then shows how
# `kernels/` computes the same numbers quickly: a convolution as one matrix product over
# "im2col" columns, attention in tiles with an online softmax.
#
# Run it with `python tutorials/01_kernels.py`, or open it as a notebook.

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np

import autodiff as ad
from kernels import attention as attn
from kernels import attention_reference as attn_ref
from kernels import conv, conv_reference
from kernels._fast_exp import exp_shifted_sum
from scratchgen.nn import functional as F

QUICK = os.environ.get("SCRATCHGEN_QUICK") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. A convolution is a sum over kernel taps
#
# For an input x of shape (N, C, H, W), a weight w of shape (O, C, k, k), stride s and
# padding p, deep learning's "convolution" (strictly a cross-correlation) is
#
#     y[n, o, i, j] = Σ_{c, a, b}  w[o, c, a, b] · x_pad[n, c, i·s + a, j·s + b]
#
# Each output pixel is a dot product between the weight and the k×k patch under it. The most
# literal code is six nested loops:


# %%
def conv2d_loops(x, w, stride=1, padding=0):
    n_img, c_in, h, width = x.shape
    c_out, _, k, _ = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    h_out = (h + 2 * padding - k) // stride + 1
    w_out = (width + 2 * padding - k) // stride + 1
    y = np.zeros((n_img, c_out, h_out, w_out))
    for n in range(n_img):
        for o in range(c_out):
            for i in range(h_out):
                for j in range(w_out):
                    rows = slice(i * stride, i * stride + k)
                    cols = slice(j * stride, j * stride + k)
                    y[n, o, i, j] = np.sum(w[o] * x_pad[n, :, rows, cols])
    return y


x = rng.standard_normal((2, 3, 7, 7))
w = rng.standard_normal((4, 3, 3, 3))
y = conv2d_loops(x, w, stride=2, padding=1)
print("loops vs reference:", np.allclose(y, conv_reference.conv2d_reference(x, w, 2, 1)))
print("loops vs kernel:   ", np.allclose(y, conv.conv2d(x, w, 2, 1)))

# %% [markdown]
# ## 2. im2col: the same sum as one matrix product
#
# Copy every patch into a column: the matrix `cols` has one row per (channel, kernel row,
# kernel column) and one column per (image, output pixel). Then the convolution is a single
# matrix product, W (O × C k k) times cols (C k k × N Ho Wo). The copy costs k² times the input's
# memory, but it turns the whole convolution into the operation computers do best: a BLAS
# matrix product, which runs near the machine's peak.


# %%
def im2col(x, k, stride, padding):
    n_img, c_in, h, width = x.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    h_out = (h + 2 * padding - k) // stride + 1
    w_out = (width + 2 * padding - k) // stride + 1
    cols = np.empty((c_in, k, k, n_img, h_out, w_out))
    for a in range(k):
        for b in range(k):
            rows = slice(a, a + stride * h_out, stride)
            columns = slice(b, b + stride * w_out, stride)
            cols[:, a, b] = x_pad[:, :, rows, columns].transpose(1, 0, 2, 3)
    return cols.reshape(c_in * k * k, -1), (h_out, w_out)


cols, (h_out, w_out) = im2col(x, 3, 2, 1)
y_gemm = (w.reshape(4, -1) @ cols).reshape(4, 2, h_out, w_out).transpose(1, 0, 2, 3)
print("cols:", cols.shape, " im2col @ W matches:", np.allclose(y_gemm, y))

plt.figure(figsize=(8, 3))
plt.imshow(cols, aspect="auto", cmap="RdBu_r")
plt.xlabel("(image, output pixel)")
plt.ylabel("(channel, tap)")
plt.title("the columns matrix: every patch of x laid out as a column")
plt.colorbar()
plt.tight_layout()
plt.show()

# %% [markdown]
# ### ... or one dot product per output pixel
#
# im2col sends every input number through memory k² times. With many channels on small
# images (8x8) that copy cost as much as the product itself, so for long dot products the
# kernel (`kernels/_direct.py`) works one output row at a time instead: it copies the k input
# rows that row needs into a small channels-last buffer, in which each output pixel's k·k·C
# inputs lie side by side, a "run". The output is the dot product of a pixel's run with W[o]
# flattened in the same (tap, channel) order. The kernel keeps 4 pixels × 4 output channels of
# these sums in registers, so that every number it loads feeds four multiply-adds. Here is one
# output row in NumPy:


# %%
x1, w1, p = rng.standard_normal((1, 8, 6, 6)), rng.standard_normal((5, 8, 3, 3)), 2
x_last = np.pad(x1[0], ((0, 0), (1, 1), (1, 1))).transpose(1, 2, 0)  # (row, col, C), padded
buffer = x_last[p : p + 3].transpose(1, 0, 2)  # (col, kernel row i, C): output row p's inputs
runs = np.stack([buffer[q : q + 3].ravel() for q in range(6)])  # (pixel q, (j, i, c))
w_runs = w1.transpose(0, 3, 2, 1).reshape(5, -1)  # W[o] in the same (j, i, c) order
row_p = conv_reference.conv2d_reference(x1, w1, 1, 1)[0, :, p]  # (O, pixel)
print("runs:", runs.shape, " one output row matches:", np.allclose(runs @ w_runs.T, row_p.T))

# %% [markdown]
# ## 3. The two gradients, and why the input gradient is a transposed convolution
#
# Let g = ∂L/∂y. Differentiating the sum term by term:
#
# * **weight**: ∂L/∂w[o, c, a, b] = Σ_{n, i, j} g[n, o, i, j] · x_pad[n, c, i·s + a, j·s + b],
#   a correlation of the input with the output gradient. In im2col form: dW = G · colsᵀ.
# * **input**: each x_pad pixel was read by every output whose patch covered it, so
#   ∂L/∂x_pad[n, c, r, t] = Σ over those (o, i, j) of g[n, o, i, j] · w[o, c, r − i·s, t − j·s].
#   In im2col form: dcols = Wᵀ G, then "col2im" adds each column back onto the pixels it came
#   from.
#
# The input gradient is the transpose of the linear map x ↦ conv2d(x, w): that is exactly what
# a **transposed convolution** is. It satisfies ⟨conv2d(x), y⟩ = ⟨x, conv_transpose2d(y)⟩ for
# all x and y:

# %%
y_probe = rng.standard_normal(y.shape)
lhs = np.sum(conv.conv2d(x, w, 2, 1) * y_probe)
rhs = np.sum(x * conv.conv2d_input_grad(y_probe, w, x.shape, 2, 1))
print(f"<conv(x), y> = {lhs:.10f}\n<x, conv_T(y)> = {rhs:.10f}")

# %% [markdown]
# With stride 2, the transpose spreads each input pixel over a kernel-sized patch of an output
# twice as large: the "deconvolution" that decoders and GAN generators use to upsample.

# %%
single = np.zeros((1, 1, 4, 4))
single[0, 0, 1, 2] = 1.0
kernel = np.arange(1, 17, dtype=float).reshape(1, 1, 4, 4)
spread = conv.conv_transpose2d(single, kernel, stride=2, padding=1)
fig, axes = plt.subplots(1, 3, figsize=(9, 3))
titles = ["input: one pixel", "kernel 4x4", "conv_transpose2d, stride 2"]
for ax, image, title in zip(axes, [single[0, 0], kernel[0, 0], spread[0, 0]], titles):
    ax.imshow(image, cmap="viridis")
    ax.set_title(title)
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# In `scratchgen.nn.functional`, conv2d is an engine primitive whose VJPs are these kernels,
# and the kernels' own VJPs are each other, so second derivatives (a WGAN-GP penalty on a
# convolutional critic) work. `gradgradcheck` confirms it against finite differences:

# %%
x_small, w_small = rng.standard_normal((1, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
strided = lambda a, b: F.conv2d(a, b, stride=2, padding=1)  # noqa: E731
print("conv2d gradgradcheck:", ad.gradgradcheck(strided, [x_small, w_small]))

# %% [markdown]
# ## 4. Attention, and the online softmax
#
# Attention (Vaswani et al. 2017, eq. 1) mixes values by how well each query matches each key:
#
#     S = scale · Q Kᵀ,     P = softmax_rows(S),     O = P V
#
# For a sequence of length T, S and P are T × T. The trick behind the fast kernels is that a
# softmax can be computed **one block of keys at a time** (Milakov & Gimelshein 2018): keep for
# each row the running maximum m and the running normaliser l, and when a new block brings a
# larger maximum, rescale what was accumulated so far:
#
#     m' = max(m, max S_block)
#     l' = l · e^{m − m'} + Σ e^{S_block − m'}
#     acc' = acc · e^{m − m'} + e^{S_block − m'} V_block
#
# At the end O = acc / l and log Σ e^S = m + log l. No T × T matrix was ever stored.


# %%
def online_softmax_attention(q, k, v, block):
    m = np.full((q.shape[0], 1), -np.inf)
    l = np.zeros((q.shape[0], 1))
    acc = np.zeros((q.shape[0], v.shape[1]))
    for start in range(0, k.shape[0], block):
        S = q @ k[start : start + block].T / np.sqrt(q.shape[1])
        m_new = np.maximum(m, S.max(axis=1, keepdims=True))
        P = np.exp(S - m_new)
        l = l * np.exp(m - m_new) + P.sum(axis=1, keepdims=True)
        acc = acc * np.exp(m - m_new) + P @ v[start : start + block]
        m = m_new
    return acc / l, (m + np.log(l))[:, 0]


q, k, v = rng.standard_normal((6, 4)), rng.standard_normal((10, 4)), rng.standard_normal((10, 3))
out_blocks, lse_blocks = online_softmax_attention(q, k, v, block=3)
S_full = q @ k.T / 2.0
P_full = np.exp(S_full - S_full.max(1, keepdims=True))
P_full /= P_full.sum(1, keepdims=True)
print("blocks of 3 keys == full softmax:", np.allclose(out_blocks, P_full @ v))

# %% [markdown]
# The backward pass needs P again. Rather than storing it, it is **recomputed** from S and the
# saved log-sum-exp, P = e^{S − lse}, and the gradients follow the chain rule through the
# softmax (with D_i = Σ_j P_ij dP_ij = ⟨dO_i, O_i⟩):
#
#     dV = Pᵀ dO,   dP = dO Vᵀ,   dS = P ∘ (dP − D),   dQ = scale · dS K,   dK = scale · dSᵀ Q
#
# Recomputing costs one more matrix product; storing would cost T² memory per head. The tiled
# kernel in `kernels/attention.py` does both passes this way (compiled for float32; float64
# takes the same tiles in NumPy, `kernels/_attention_numpy.py`); here it is against the
# reference that keeps the full matrix:

# %%
q4, k4, v4 = (rng.standard_normal((2, 2, 200, 16)).astype(np.float32) for _ in range(3))
out, lse = attn.attention(q4, k4, v4, causal=True, block=64)
out_ref, lse_ref = attn_ref.attention_reference(q4, k4, v4, causal=True)
grad = rng.standard_normal(out.shape).astype(np.float32)
tiled = attn.attention_backward(q4, k4, v4, out, lse, grad, causal=True, block=64)
full = attn_ref.attention_backward_reference(q4, k4, v4, out_ref, lse_ref, grad, causal=True)
print("output matches:", np.allclose(out, out_ref, atol=1e-5), " gradients match:",
      all(np.allclose(a, b, atol=1e-4) for a, b in zip(tiled, full)))  # fmt: skip

# %% [markdown]
# ### The exp inside the kernel
#
# Most of the softmax's time goes into exp. Numba compiles `math.exp` to one call of the C
# library per number, so the kernel computes it the way vector math libraries do (Cody & Waite,
# 1980): write x = n·ln2 + r with n = round(x / ln2), so that |r| ≤ ln2 / 2. Then
#
#     e^x = 2^n · e^r,
#
# where 2^n is nothing but the exponent bits of a float, (n + 127) << 23, and e^r, on so short
# an interval, is a degree-6 polynomial to float32 precision. Every step is an add, a multiply
# or a shift, which the compiler turns into SIMD instructions (`kernels/_fast_exp.py`):

# %%
x32 = np.linspace(-80, 80, 100_001, dtype=np.float32)
ours = x32.copy()
exp_shifted_sum(ours, np.float32(0), np.empty(ours.size, np.int32))
exact = np.exp(x32.astype(np.float64))
print(f"largest relative error on [-80, 80]: ours {np.max(np.abs(ours - exact) / exact):.1e}, "
      f"NumPy's float32 exp {np.max(np.abs(np.exp(x32) - exact) / exact):.1e}")  # fmt: skip

# %% [markdown]
# ## 5. What it buys: a measured comparison
#
# The explicit sums against the kernels, float32, on this machine (the benchmark runner,
# `python -m benchmarks`, measures the full set, side by side with PyTorch when it is installed).


# %%
def best_time(fn, repeats=3):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


n_img = 4 if QUICK else 16
xb = rng.standard_normal((n_img, 32, 28, 28)).astype(np.float32)
wb = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
t_ref = best_time(lambda: conv_reference.conv2d_reference(xb, wb, 1, 1))
t_fast = best_time(lambda: conv.conv2d(xb, wb, 1, 1))
print(f"conv2d {xb.shape}: reference {t_ref * 1e3:.1f} ms, kernel {t_fast * 1e3:.1f} ms "
      f"({t_ref / t_fast:.1f}x)")  # fmt: skip

# the direct loop against im2col + BLAS on many channels and small images
xd = rng.standard_normal((32 if QUICK else 128, 32, 8, 8)).astype(np.float32)
wd = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
t_direct = best_time(lambda: conv.conv2d(xd, wd, 1, 1))
shortest_direct_run, conv.DIRECT_RUN = conv.DIRECT_RUN, 10**9  # im2col for everything
try:
    t_im2col = best_time(lambda: conv.conv2d(xd, wd, 1, 1))
finally:
    conv.DIRECT_RUN = shortest_direct_run
print(f"conv2d {xd.shape}: im2col + BLAS {t_im2col * 1e3:.2f} ms, direct loop "
      f"{t_direct * 1e3:.2f} ms")  # fmt: skip

seq = 128 if QUICK else 512
qb, kb, vb = (rng.standard_normal((4, 4, seq, 64)).astype(np.float32) for _ in range(3))
t_ref = best_time(lambda: attn_ref.attention_reference(qb, kb, vb, causal=True))
t_fast = best_time(lambda: attn.attention(qb, kb, vb, causal=True))
print(f"causal attention T={seq}: reference {t_ref * 1e3:.1f} ms, tiled kernel "
      f"{t_fast * 1e3:.1f} ms ({t_ref / t_fast:.1f}x), and no {seq}x{seq} matrix kept")  # fmt: skip

# %% [markdown]
# ## Summary
#
# * A convolution is a sum over kernel taps; im2col turns it into one matrix product, and a
#   channels-last buffer per output row turns it into one dot product per output pixel.
# * Its input gradient is its transpose, a transposed convolution; its weight gradient is a
#   correlation of the input with the output gradient. All three are convolutions of each
#   other, which is why their derivatives, to any order, are too.
# * Attention's softmax can be computed block by block with a running maximum and normaliser,
#   so neither pass ever stores the T × T matrix: the backward recomputes it from the
#   log-sum-exp.
