# %% [markdown]
# # 03 · Autoregressive models: the chain rule, made to learn
#
# Any distribution over D variables factorises exactly by the chain rule of probability,
#
#     p(x_1, ..., x_D) = p(x_1) p(x_2 | x_1) ... p(x_D | x_1, ..., x_{D-1}),
#
# so a model that gives each conditional a tractable form has an exact likelihood and an
# exact sampler. What differs between FVSBN, NADE, MADE, PixelCNN and the Transformer is how
# the conditionals share parameters. This tutorial counts what that sharing saves, builds
# MADE's masks, draws PixelCNN's blind spot, and measures a Transformer against the exact
# entropy of its data.
#
# Run it with `python tutorials/03_autoregressive.py`, or open it as a notebook.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import autodiff as ad
from scratchgen import data, models, train
from scratchgen.data import grammar
from scratchgen.models.autoregressive import made_masks

QUICK = os.environ.get("SCRATCHGEN_QUICK") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. What the conditionals cost
#
# For D binary pixels, a table of every conditional p(x_i | x_<i) needs 2^(i-1) numbers for
# pixel i: 2^D − 1 in all, hopeless beyond a few dozen pixels. FVSBN makes each conditional a
# logistic regression, sigmoid(b_i + Σ_{j<i} W_ij x_j): about D²/2 parameters. NADE shares one
# hidden layer of H units across all of them: 2DH + D + H, linear in D.

# %%
for D in [16, 64, 784]:
    tabular = 2.0**D - 1
    fvsbn = D * (D - 1) / 2 + D
    nade = 2 * D * 64 + D + 64
    print(f"D = {D:4d}: table {tabular:10.3g}   FVSBN {fvsbn:10.0f}   NADE (H=64) {nade:8.0f}")

# %% [markdown]
# NADE's parameter sharing saves time as well as parameters. The pre-activation of
# conditional i is a running sum, a_{i+1} = a_i + W[:, i] x_i, so all D conditionals of one
# example cost O(DH), not O(D²H). Written as array operations (an exclusive cumulative sum
# over an n × D × H array) the training step still stores n·D·H numbers; the Numba kernel
# behind `NADE` (`kernels/nade.py`, the paper's Algorithm 1) walks the sum forward, then
# back for the gradient, and stores none of them. Both give the same numbers:

# %%
import time

from kernels import nade as nade_kernel
from kernels import nade_reference

n, D, H = 32, 784, 100
x = (rng.random((n, D)) < 0.3).astype(np.float32)
W, c, V, b = (0.1 * rng.standard_normal(s).astype(np.float32) for s in [(H, D), (H,), (D, H), (D,)])
for name, logits_of in [("cumulative sum (NumPy)", nade_reference.nade_logits_reference),
                        ("running sum (Numba)", nade_kernel.nade_logits)]:  # fmt: skip
    logits_of(x, W, c, V, b)  # the first call may compile
    start = time.perf_counter()
    logits = logits_of(x, W, c, V, b)
    print(f"{name:24s} {1e3 * (time.perf_counter() - start):6.1f} ms, logit[0, 100] = "
          f"{logits[0, 100]:.5f}")  # fmt: skip

# %% [markdown]
# ## 2. MADE: masks from degrees
#
# MADE turns an ordinary MLP into an autoregressive model by multiplying its weights by 0/1
# masks. Give input d the degree m(d) = its position in the ordering, and each hidden unit a
# degree in [1, D − 1]. A hidden unit may connect to inputs of degree ≤ its own, and output d
# only to hidden units of degree < m(d). Then every path from x_j to output d has
# m(j) < m(d): output d depends on earlier inputs only. The mask product shows it. Its
# (d, j) entry counts the paths from input j to output d, and it is strictly lower
# triangular in the ordering.

# %%
D = 6
ordering = rng.permutation(D)
masks = made_masks(D, [12, 12], rng, ordering)
paths = masks[2] @ masks[1] @ masks[0]  # (outputs, inputs): number of paths j -> d
position = np.argsort(ordering)  # position[d] = where d comes in the ordering
reordered = paths[np.ix_(ordering, ordering)]
print("ordering:", ordering)
print("paths between dimensions, rows and columns in generation order:\n", reordered.astype(int))
assert np.all(np.triu(reordered) == 0)

fig, axes = plt.subplots(1, 4, figsize=(12, 3))
titles = ["input -> hidden 1", "hidden 1 -> 2", "hidden 2 -> output", "paths (output x input)"]
for ax, mask, title in zip(axes, [*masks, paths], titles):
    ax.imshow(mask, cmap="Greys")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3. PixelCNN's blind spot
#
# PixelCNN stacks masked 3×3 convolutions: the first (mask A) hides the current pixel, the
# rest (mask B) may look at their own position's features. Each layer widens the view by
# one pixel up, left and right, but the row above only ever extends *one* pixel to the right
# per row. Pixels further right in the rows above are never seen: the blind spot. Gated
# PixelCNN removes it with a vertical stack that sees whole rows above. We draw what the
# prediction at one pixel depends on, by differentiating its logit with respect to the input.

# %%
info = data.DataInfo((1, 9, 9), "binary")


def receptive_field(name, i, j):
    model = models.create(name, info, filters=4, layers=4, kernel_size=3).to(np.float64)
    generator = np.random.default_rng(1)
    for p in model.parameters():
        p.data = generator.standard_normal(p.shape)
    x = ad.Tensor(generator.random((8, 1, 9, 9)), requires_grad=True)
    (g,) = ad.grad(ad.sum(model.logits(x)[:, 0, 0, i, j]), x)
    return (g.data != 0).any(axis=(0, 1))


fig, axes = plt.subplots(1, 2, figsize=(8, 4))
for ax, name in zip(axes, ["pixelcnn", "gated_pixelcnn"]):
    seen = receptive_field(name, 6, 4).astype(float)
    seen[6, 4] = 0.5  # the pixel being predicted
    ax.imshow(seen, cmap="Blues", vmin=0, vmax=1)
    ax.set_title(f"{name}: inputs seen by pixel (6, 4)")
    ax.set_xticks([])
    ax.set_yticks([])
plt.tight_layout()
plt.show()

# %% [markdown]
# Colour adds an order inside each pixel: R, then G, then B. Both PixelCNNs split their
# features into three groups, one per colour, and at the current pixel a group may read only
# earlier groups (mask A, the first layer) or earlier groups and its own (mask B, every later
# layer, whose features of the same colour were computed from earlier inputs only). In the
# gated model only the horizontal stack needs these masks, since the vertical stack reaches
# row i from rows above alone. The centre tap of each mask, groups by groups:

# %%
from scratchgen.nn.layers.masked_conv import pixelcnn_mask

for kind in "AB":
    centre = pixelcnn_mask(kind, 3, 3, 3, color_groups=3)[:, :, 1, 1]
    print(f"mask {kind}, output colour (rows R, G, B) reads input colour (columns):\n", centre)

rgb = models.create("gated_pixelcnn", data.DataInfo((3, 5, 5), "binary"), filters=6, layers=2,
                    kernel_size=3).to(np.float64)  # fmt: skip
for p in rgb.parameters():
    p.data = rng.standard_normal(p.shape)
x = ad.Tensor(rng.random((4, 3, 5, 5)), requires_grad=True)
for c, colour in enumerate("RGB"):
    (g,) = ad.grad(ad.sum(rgb.logits(x)[:, c, 0, 2, 2]), x)
    seen = (g.data[:, :, 2, 2] != 0).any(axis=0)
    print(f"{colour} at pixel (2, 2) reads that pixel's", "".join(np.array(list("RGB"))[seen]) or
          "nothing")  # fmt: skip

# %% [markdown]
# ## 4. Teacher forcing, and sampling
#
# Training feeds the model the *true* prefix at every position and scores the true next
# value: all D conditionals in one parallel pass ("teacher forcing"). Sampling cannot do
# that: each value must be drawn before the next conditional can be computed, so D sequential
# passes. Here is the gap on the digits, one training step against one sample.

# %%
digits = data.load("digits_binary")
pixelcnn = models.create("pixelcnn", digits.info)
batch = digits.train[:64]
start = time.perf_counter()
loss = pixelcnn.loss(batch)
loss.backward()
t_train = time.perf_counter() - start
start = time.perf_counter()
pixelcnn.sample(64, rng)
t_sample = time.perf_counter() - start
print(f"one training step on 64 digits: {t_train * 1e3:.0f} ms (all 64 conditionals at once); "
      f"sampling 64 digits: {t_sample * 1e3:.0f} ms (64 passes, one per pixel)")  # fmt: skip

# %% [markdown]
# ## 5. How far from perfect: the KL gap on text
#
# The grammar text comes from a source whose entropy rate H is known exactly (tutorial 02's
# trick, for sequences): no model can reach a test NLL per character below H, and the
# difference is the model's KL divergence per character. A small Transformer closes most of
# the gap in a few hundred steps; temperature then trades diversity for likelihood.

# %%
text = data.load("grammar")
lm = models.create("transformer", text.info)
budget = 60 if QUICK else 600
config = train.TrainConfig(steps=budget, batch_size=32, lr=0.003, eval_every=budget // 3)
trainer = train.Trainer(lm, text, config, progress=False)
trainer.fit()
per_char = [r["test_nll"] / text.info.shape[0] for r in trainer.history if "test_nll" in r]
rate = grammar.entropy_rate()
print(f"entropy rate {rate:.3f} nats/char; test NLL per char after each third of training:",
      ", ".join(f"{h:.3f}" for h in per_char), f"(KL gap {per_char[-1] - rate:.3f})")  # fmt: skip

vocab = text.extras["vocab"]
for temperature in [0.5, 1.0, 1.5]:
    out = lm.sample(1, np.random.default_rng(2), given=data.encode("the ", vocab),
                    temperature=temperature)  # fmt: skip
    print(f"temperature {temperature}: {data.decode(out[0], vocab)!r}")

# %% [markdown]
# Likelihood is also a judge: the model scores a grammatical sentence far above a shuffled
# one with the same characters.

# %%
good = "the big cat sees a fish. a small dog eats the bird. the old dog "
bad = "cat the big a sees fish. dog small a the eats bird. old the dog "
with ad.no_grad():
    scores = lm.log_prob(np.stack([data.encode(good[:64], vocab), data.encode(bad[:64], vocab)]))
print(
    f"log p(grammatical) = {scores.data[0]:.1f} nats, log p(shuffled) = {scores.data[1]:.1f} nats"
)

# %% [markdown]
# ## Summary
#
# * The chain rule makes every autoregressive model exact; models differ in how their
#   conditionals share parameters (a table, logistic regressions, one shared hidden layer,
#   masks, convolutions, attention).
# * MADE's masks follow from degrees; PixelCNN's masks leave a blind spot that the gated
#   stacks remove.
# * Training is parallel (teacher forcing), sampling sequential.
# * With an exact entropy rate, the test NLL says how far from the truth the model is.
