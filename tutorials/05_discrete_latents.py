# %% [markdown]
# # 05 · Discrete latents: REINFORCE, control variates, Gumbel-softmax, straight-through
#
# A categorical z cannot be written as a smooth function of its parameters and independent
# noise, so the reparameterisation trick of tutorial 04 does not apply. This tutorial
# measures what the alternatives cost: the score-function estimator (unbiased, noisy), the
# control variates that tame it, the Gumbel-softmax relaxation (smooth, biased) and its
# straight-through variant, and then trains a VAE with 10 categorical latents each way.
#
# Run it with `python tutorials/05_discrete_latents.py`, or open it as a notebook.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import autodiff as ad
from scratchgen import data, estimators, models, train, viz
from scratchgen import distributions as D

QUICK = os.environ.get("SCRATCHGEN_QUICK") == "1"
rng = np.random.default_rng(0)
draws = 300 if QUICK else 3000

# %% [markdown]
# ## 1. The score function and its variance
#
# For q = Categorical(softmax(θ)) and any f, ∇_θ E_q[f(z)] = E_q[f(z) ∇_θ log q(z)]
# (Williams 1992): unbiased, and f need not be differentiable. Its variance grows with the
# size of f: adding a constant c to f does not change the gradient, but it adds
# c ∇ log q(z) to every estimate. A baseline b subtracted from f removes that noise and keeps
# the estimator unbiased, as long as b does not depend on the z being scored. The
# leave-one-out baseline takes, for each of S draws, the mean f of the other S − 1 draws.

# %%
costs = np.array([3.0, -1.0, 0.5, 2.0]) + 10.0  # a large mean, as a log-likelihood has
theta = ad.Tensor(np.array([0.2, -0.3, 0.5, 0.0]), requires_grad=True)
p = np.exp(theta.data) / np.exp(theta.data).sum()
exact = p * (costs - p @ costs)


def f(z):
    return ad.Tensor(costs[np.asarray(z.data, dtype=int)])


def estimate(baseline):
    return estimators.score_function(f, D.Categorical(logits=theta), 4, rng, baseline)


for name, baseline in [("none", 0.0), ("constant E[f]", float(p @ costs)),
                       ("leave-one-out", "leave_one_out")]:  # fmt: skip
    rows = np.array([ad.grad(estimate(baseline), theta)[0].data for _ in range(draws)])
    print(f"baseline {name:14s}: mean {np.round(rows.mean(0), 2)}  (exact {np.round(exact, 2)}),"
          f" total variance {rows.var(0).sum():8.3f}")  # fmt: skip

# %% [markdown]
# ## 2. The Gumbel-max trick
#
# If G_k are independent standard Gumbel variables, argmax_k (log π_k + G_k) is an exact
# draw from π (Gumbel 1954; Maddison et al. 2014). The argmax is what blocks gradients; the
# rest of this tutorial is about replacing it.

# %%
logits = np.log(np.array([0.1, 0.2, 0.3, 0.4]))
gumbel = -np.log(-np.log(rng.random((20_000, 4))))
counts = np.bincount(np.argmax(logits + gumbel, axis=1), minlength=4)
print("frequencies", counts / counts.sum(), "vs", np.exp(logits))

# %% [markdown]
# ## 3. Gumbel-softmax: a relaxation with a temperature
#
# Replace the argmax by a softmax at temperature τ: y = softmax((log π + G)/τ) lives on the
# simplex, is differentiable in π, and tends to the one-hot draw as τ → 0 (Jang et al. 2017;
# Maddison et al. 2017). The price is bias: a decoder fed y instead of a one-hot computes a
# different expectation. Below: the share of draws whose largest entry exceeds 0.9, and the
# bias and variance of the relaxed gradient of E[<w, z>²] at several temperatures.

# %%
weights = np.array([1.0, -2.0, 0.5, 3.0])
theta2 = ad.Tensor(np.zeros(4), requires_grad=True)
p2 = np.full(4, 0.25)
exact2 = p2 * (weights**2 - p2 @ weights**2)  # z one-hot: <w, z>^2 = w_k^2
for tau in [5.0, 1.0, 0.5, 0.1]:
    y = estimators.gumbel_softmax(np.zeros((5000, 4)), tau, rng).data
    rows = []
    for _ in range(draws):
        relaxed = estimators.gumbel_softmax(ad.broadcast_to(theta2, (8, 4)), tau, rng)
        rows.append(ad.grad(ad.mean(ad.sum(relaxed * weights, axis=1) ** 2), theta2)[0].data)
    rows = np.array(rows)
    bias = np.abs(rows.mean(0) - exact2).sum()
    print(f"tau {tau:3.1f}: near one-hot {np.mean(y.max(1) > 0.9):5.1%}, gradient bias "
          f"{bias:6.3f}, variance {rows.var(0).sum():8.3f}")  # fmt: skip

fig, axes = plt.subplots(1, 3, figsize=(11, 3))
for ax, tau in zip(axes, [5.0, 1.0, 0.1]):
    y = estimators.gumbel_softmax(np.log(np.full((400, 3), 1 / 3)), tau, rng).data
    ax.scatter(y[:, 1] + y[:, 2] / 2, y[:, 2] * np.sqrt(3) / 2, s=4)
    ax.plot([0, 1, 0.5, 0], [0, 0, np.sqrt(3) / 2, 0], "k-", lw=0.8)
    ax.set_title(f"draws on the simplex, tau = {tau}")
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Straight-through
#
# Forward the hard one-hot, backward as if it were the soft y: y_hard + (y − stop(y)). The
# forward pass is the real discrete model; the gradient is the relaxed one (Bengio et al.
# 2013; Jang et al. 2017, §2.2).

# %%
hard = estimators.gumbel_softmax(theta2, 0.5, np.random.default_rng(1), hard=True)
(g_hard,) = ad.grad(ad.sum(hard * weights), theta2)
soft = estimators.gumbel_softmax(theta2, 0.5, np.random.default_rng(1))
(g_soft,) = ad.grad(ad.sum(soft * weights), theta2)
print("forward value", hard.data, "; gradients equal:", np.allclose(g_hard.data, g_soft.data))

# %% [markdown]
# ## 5. A VAE with 10 categorical latents, trained each way
#
# Ten latents of ten categories, a uniform prior and an exact KL term; only the estimator of
# the reconstruction term's encoder gradient changes. Every row reports the *real* discrete
# model's test ELBO and an importance-sampled log p(x), and the variance of the encoder's
# gradient on one batch at the end of training (NVIL divides its learning signal by a
# running standard deviation, so its variance is on another scale).

# %%
digits = data.load("digits_binary")
probe = digits.test[:100]
settings = [("reinforce", "none", 1), ("reinforce", "nvil", 1),
            ("reinforce", "leave_one_out", 4), ("gumbel", "none", 1),
            ("straight_through", "none", 1)]  # fmt: skip
for estimator, baseline, samples in settings:
    model = models.create("discrete_vae", digits.info, hidden=(256,), estimator=estimator,
                          baseline=baseline, samples=samples)  # fmt: skip
    result = train.fit(model, digits, progress=False, steps=50 if QUICK else 2000, batch_size=64,
                       lr=3e-3, eval_every=10**9)  # fmt: skip
    variance = estimators.gradient_variance(lambda m=model: m.loss(probe),
                                            list(model.encoder.parameters()), 50)  # fmt: skip
    label = estimator if estimator != "reinforce" else f"reinforce, baseline {baseline}"
    print(f"{label:34s} ELBO {result['test_elbo']:7.2f}  log p(x) {-result['test_nll']:7.2f}  "
          f"gradient variance {variance:9.3g}")  # fmt: skip

# %% [markdown]
# ## 6. VQ-VAE: a deterministic discrete code, and a prior learned afterwards
#
# The VQ-VAE (van den Oord et al. 2017) sidesteps the estimators: its encoder outputs a grid
# of vectors, each is snapped to the nearest of K codebook vectors, and the decoder's input is
# passed through straight: its value is the code, its gradient goes to the encoder's vector.
# The codebook follows the encoder either by a loss term or as a running average of the
# vectors assigned to each code (EMA). Because q(z | x) is a point mass, the KL term is
# -log p(codes) under the prior, here a PixelCNN over the 2x2 grid of codes, trained alongside.
# A code nobody picks is dead weight: the perplexity of the code frequencies says how many
# codes are in real use, and dead ones are moved onto encoder outputs.

# %%
for codebook in ("ema", "loss"):
    vq = models.create("vqvae", digits.info, codes=16, code_dim=8, filters=16, codebook=codebook)
    result = train.fit(vq, digits, progress=False, steps=50 if QUICK else 1500, batch_size=64,
                       lr=3e-3, eval_every=10**9)  # fmt: skip
    usage = vq.codebook_usage(digits.test)
    print(f"codebook by {codebook:4s}: ELBO {result['test_elbo']:7.2f}, code perplexity "
          f"{usage['perplexity']:5.2f} of 16, {usage['used']:.0%} of codes used, "
          f"{int(vq.revived)} revived")  # fmt: skip

fig, axes = plt.subplots(1, 2, figsize=(9, 3))
pairs = np.concatenate([digits.test[:8], vq.reconstruct(digits.test[:8])])
axes[0].imshow(viz.tile(pairs, None, 8), interpolation="nearest")
axes[0].set_title("test digits, and decoded from their 4 codes")
axes[1].imshow(viz.tile(vq.sample(16, rng), None, 8), interpolation="nearest")
axes[1].set_title("codes from the PixelCNN prior, decoded")
for ax in axes:
    ax.axis("off")
plt.tight_layout()
plt.show()
