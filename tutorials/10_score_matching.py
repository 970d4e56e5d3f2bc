# %% [markdown]
# # 10 · Score matching and score-based models
#
# An energy model's trouble is Z. Its *score*, s(x) = grad_x log p(x) = -grad_x E(x), does not
# have it: log Z is a constant and its gradient in x is zero. Fit the score and Z never
# appears; sample with Langevin dynamics, which needs only the score. The chapter:
#
# 1. the Fisher divergence, and integration by parts: Hyvarinen's score matching, checked;
# 2. the cost of its trace, and sliced score matching, which removes it;
# 3. denoising score matching, and what it really estimates;
# 4. the estimators' variance: exact, sliced, sliced with variance reduction, denoising;
# 5. why one noise level fails: scores in low-density regions, and the weights of far-apart
#    modes;
# 6. noise-conditional score networks and annealed Langevin dynamics.
#
# The losses are in `scratchgen.score_matching`; `models.create("ebm", objective=...)` fits an
# energy by them, and `models.create("ncsn", ...)` is Song & Ermon's score network.
#
# Run it with `python tutorials/10_score_matching.py`, or open it as a notebook.

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from autodiff import Tensor
from scratchgen import data, models, nn, train
from scratchgen import score_matching as sm
from scratchgen.data.toy2d import gaussian_mixture_score
from scratchgen.metrics import mode_coverage
from scratchgen.tour.scores import two_mode_fractions

QUICK = os.environ.get("SCRATCHGEN_QUICK") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The Fisher divergence and integration by parts
#
# Fit s_theta to the data's score by the Fisher divergence
#
#     F(theta) = 1/2 E_p || s_theta(x) - grad log p(x) ||^2.
#
# It needs grad log p, which we do not have. Expand the square: the cross term
# E_p[s^T grad log p] = int s^T grad p dx becomes -int tr(ds/dx) p dx by integration by parts
# (p vanishing at infinity), so that (Hyvarinen 2005, theorem 1)
#
#     F(theta) = E_p [ 1/2 ||s_theta(x)||^2 + tr(ds_theta/dx) ] + 1/2 E_p ||grad log p||^2,
#
# and the first term, J(theta), is computable from samples alone. Check it on Gaussian data
# N(0, Sigma) and a linear score s(x) = -A (x - m): with B = Sigma^-1 - A the Fisher
# divergence is 1/2 (tr(B Sigma B^T) + ||A m||^2) and the constant 1/2 tr(Sigma^-1), in closed
# form, against J averaged over samples:

# %%
D = 3
L = rng.normal(size=(D, D)) / 2 + np.eye(D)
Sigma = L @ L.T
x = rng.multivariate_normal(np.zeros(D), Sigma, size=200_000)
A, m = np.eye(D) * 0.8, np.full(D, 0.3)


def linear_score(x):
    return (Tensor(m) - x) @ Tensor(A.T)


J = sm.exact_score_matching(linear_score, x).item()
precision = np.linalg.inv(Sigma)
B = precision - A
fisher = 0.5 * (np.trace(B @ Sigma @ B.T) + np.sum((A @ m) ** 2))
constant = 0.5 * np.trace(precision)
print(f"J on 200,000 samples = {J:.4f};  Fisher divergence - constant = {fisher - constant:.4f}")

# %% [markdown]
# ## 2. The trace, and sliced score matching
#
# tr(ds/dx) takes D backward passes: one per coordinate (`scratchgen.traces.exact_trace`). For
# the toys D = 2; for an MNIST image D = 784. Sliced score matching (Song, Garg, Shi & Ermon
# 2019) projects on random directions v with E[v v^T] = I:
#
#     tr(ds/dx) = E_v [ v^T (ds/dx) v ],
#
# one backward pass per direction, unbiased for J. Time both on an MLP score as D grows:

# %%
for D in (4, 16, 64) if not QUICK else (4, 16):
    net = nn.MLP([D, 128, 128, D], rng=np.random.default_rng(0))
    batch = rng.standard_normal((64, D))
    for name in ("exact", "sliced"):
        start = time.perf_counter()
        if name == "exact":
            loss = sm.exact_score_matching(net, batch)
        else:
            loss = sm.sliced_score_matching(net, batch, rng)
        loss.backward()
        print(f"D = {D:>3}, {name:>6}: {1000 * (time.perf_counter() - start):6.1f} ms a step")

# %% [markdown]
# ## 3. Denoising score matching
#
# Vincent (2011) blurs the data, x~ = x + sigma z, and regresses s(x~) on the blur's score,
# grad log q(x~ | x) = -(x~ - x) / sigma^2, which is known:
#
#     J_DSM = E 1/2 || s(x~) + (x~ - x) / sigma^2 ||^2.
#
# No derivative of s at all. But the minimiser is the score of the *blurred* data,
# q_sigma = p * N(0, sigma^2 I), not of p. On eight Gaussians (each N(c_k, 0.2^2 I)) the blur
# is the same mixture at std sqrt(0.2^2 + sigma^2), so the target is known exactly
# (`data.toy2d.gaussian_mixture_score`). Fit an energy by each objective and compare its score
# with the data's:

# %%
mixture = data.load("eight_gaussians")
centres, std = mixture.extras["modes"]
probe = mixture.test[:2000]
steps = 20 if QUICK else 1500
fitted = {}
data_score = gaussian_mixture_score(probe, centres, std)
for objective in ("exact", "sliced", "denoising"):
    model = models.create("ebm", mixture.info, objective=objective, hidden=[64, 64], seed=0)
    train.fit(model, mixture, progress=False, steps=steps, batch_size=256, lr=3e-3,
              eval_every=10**9)  # fmt: skip
    fitted[objective] = model
    relative = np.sum((model.score(probe) - data_score) ** 2) / np.sum(data_score**2)
    print(
        f"{objective:>9} score matching, {steps} steps: relative squared score error at the "
        f"data {relative:.3f}"
    )

# %% [markdown]
# Denoising at sigma = 0.1 (the `sigma` setting) learns the score of the mixture at std
# sqrt(0.05): close to the data's, but biased toward it, and the bias grows with sigma.
#
# ## 4. The estimators' variance
#
# All of these are unbiased estimates of their objectives; they differ in noise. For one fixed
# score network, draw each loss many times on the same batch and compare its spread (sliced
# with variance reduction takes E_v (v^T s)^2 = ||s||^2 in closed form, Song et al.'s eq. 8):

# %%
net = fitted["sliced"].score_tensor
batch = fitted["sliced"].signal(mixture.test[:256])
draws = 20 if QUICK else 200
estimates = {
    "exact": [sm.exact_score_matching(net, batch).item()] * 2,
    "sliced": [sm.sliced_score_matching(net, batch, rng).item() for _ in range(draws)],
    "sliced, reduced": [
        sm.sliced_score_matching(net, batch, rng, variance_reduction=True).item()
        for _ in range(draws)
    ],
    "denoising": [sm.denoising_score_matching(net, batch, 0.1, rng).item() for _ in range(draws)],
}
for name, values in estimates.items():
    print(f"{name:>16}: mean {np.mean(values):8.3f}, sd over draws {np.std(values):.3f}")

# %% [markdown]
# Exact score matching has no randomness beyond the batch; sliced adds the directions'. The
# closed-form square need not help, and on the full run here it does not (sd 3.2 against
# 2.9): for Gaussian v, Cov(v^T J v, (v^T s)^2) = 2 s^T J s, and near the modes J = ds/dx is
# strongly negative definite (about -I / 0.2^2), so the two terms' noise partly cancels, and
# taking one in closed form removes the cancellation with it. Variance reduction pays where
# ||s||^4 dominates, far from the data. Denoising's value is on another scale (its constant
# D / (2 sigma^2) is large at small sigma) and its noise grows as sigma shrinks: the target
# (x~ - x) / sigma^2 = z / sigma has variance D / sigma^2.
#
# ## 5. Why one noise level fails
#
# Song & Ermon (2019, section 3) give two reasons. First, the score is learned only where the
# data are: the loss is an expectation under p, so in the empty regions between modes nothing
# constrains s_theta, and Langevin chains starting there follow a wrong field. The denoising
# fit above shows it: its error, small at the data, is large off it:

# %%
grid = np.stack(np.meshgrid(np.linspace(-3, 3, 61), np.linspace(-3, 3, 61)), -1).reshape(-1, 2)
model = fitted["denoising"]
target = gaussian_mixture_score(grid, centres, np.hypot(std, 0.1))
error = np.sqrt(np.sum((model.score(grid.astype(np.float32)) - target) ** 2, axis=1))
density = np.exp(mixture.log_density(grid))
dense = density > np.quantile(density, 0.8)
print(
    f"mean score error where the density is in its top 20%: {error[dense].mean():.2f}; "
    f"elsewhere: {error[~dense].mean():.2f}"
)
plt.figure(figsize=(5, 4.5))
plt.imshow(np.log10(error.reshape(61, 61) + 1e-3), origin="lower", extent=(-3, 3, -3, 3))
plt.colorbar(label="log10 || s_theta - score ||")
plt.scatter(*centres.T, c="w", marker="x")
plt.title("score error: low at the modes (x), high between")
plt.show()

# %% [markdown]
# Second, even the exact score cannot fix the weights of modes that are far apart: the score
# of p = 1/5 N((-5,-5), I) + 4/5 N((5,5), I) near a mode is that mode's alone, so no chain
# ever learns that one mode holds four times the mass. Langevin on the score keeps the split
# of its starting points; annealing through large noise levels, where the modes overlap,
# fixes it (Song & Ermon 2019, figure 3; the code is `scratchgen/tour/scores.py`). "Plain"
# runs all 1000 steps on the smallest level's score, sigma = 1; "annealed" runs 100 at each of
# ten levels from 20 down to 1:

# %%
chains = two_mode_fractions(1000, rng)
for name, x in chains.items():
    print(
        f"{name:>8} Langevin on exact scores: {100 * np.mean(x.sum(1) < 0):.0f}% of the "
        f"chains in the 1/5 mode (true: 20%)"
    )

# %% [markdown]
# ## 6. Noise-conditional score networks and annealed Langevin
#
# NCSN (Song & Ermon 2019) learns one network s_theta(x, sigma) for a geometric ladder of
# levels sigma_1 > ... > sigma_L, by denoising score matching at each, weighted by sigma^2
# (`score_matching.noise_conditional_score_matching`, their eq. 6). Large levels fill the
# space with well-estimated scores and mix the modes; small ones are close to the data.
# Annealed Langevin (their algorithm 1) runs T steps at each level with step size
# alpha_i = eps sigma_i^2 / sigma_L^2, from the largest level down. The 2020 paper's technique
# 1 sets sigma_1 to the largest distance between data points (`sigma_max=None`).
#
# Train one on eight Gaussians; compare its score at each level with the exact noised score,
# and sample:

# %%
ncsn = models.create("ncsn", mixture.info, sigma_max=None, sigma_min=0.05, levels=10,
                     hidden=[128, 128], seed=0)  # fmt: skip
train.fit(ncsn, mixture, progress=False, steps=20 if QUICK else 3000, batch_size=256, lr=3e-3,
          eval_every=10**9)  # fmt: skip
for sigma in ncsn.sigmas[::3]:
    noised = probe + sigma * rng.standard_normal(probe.shape)
    exact = gaussian_mixture_score(noised, centres, np.hypot(std, sigma))
    learned = ncsn.score(noised.astype(np.float32), float(sigma))
    relative = np.sum((learned - exact) ** 2) / np.sum(exact**2)
    print(f"sigma = {sigma:6.3f}: relative squared error of the learned score {relative:.3f}")

samples, trajectory = ncsn.sample(1000, rng, steps_per_level=5 if QUICK else 100, eps=1e-3,
                                  return_trajectory=True)  # fmt: skip
coverage = mode_coverage(samples, centres, std)
print(
    f"annealed Langevin: {coverage['modes']} of 8 modes, "
    f"{100 * coverage['high_quality']:.0f}% of samples within 3 sd of one"
)
fig, axes = plt.subplots(1, 4, figsize=(16, 4))
for ax, k in zip(axes, np.linspace(0, len(trajectory) - 1, 4).astype(int)):
    ax.scatter(*trajectory[k].T, s=2)
    ax.set_xlim(-4, 4)
    ax.set_ylim(-4, 4)
    ax.set_aspect("equal")
    ax.set_title(f"step {k}")
plt.show()

# %% [markdown]
# The score is also what diffusion models learn: the next chapter replaces the ladder of
# levels with a continuous noising process and its reverse.
#
# Why an energy at all, then? An energy gives log p up to Z (for comparisons, anomaly scores,
# MCMC with a Metropolis correction); a score network gives only gradients, but is free of the
# constraint that it be a gradient, which makes it easier to fit.
