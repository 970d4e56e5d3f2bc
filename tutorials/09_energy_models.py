# %% [markdown]
# # 09 · Energy-based models: densities without a normaliser
#
# An energy-based model writes a density as p_theta(x) = exp(-E_theta(x)) / Z(theta), with E
# any function (a neural network) and Z(theta) = int exp(-E_theta(x)) dx. Anything goes for E,
# which is the appeal; the price is Z, an integral over the whole space that no network gives
# in closed form. The chapter:
#
# 1. the partition function problem, and the gradient of log Z as an expectation under the
#    model, checked by quadrature;
# 2. contrastive divergence with short-run Langevin chains, and what to watch while it trains;
# 3. Langevin's step size: the tempered target that much published code samples;
# 4. the replay buffer: long chains from short runs;
# 5. restricted Boltzmann machines, whose log Z we can compute exactly, CD-1 against PCD;
# 6. annealed importance sampling for log Z, checked against that exact value;
# 7. noise-contrastive estimation: learning log Z as a parameter.
#
# The models are `models.create("ebm", ...)` (a network energy, five objectives) and
# `models.create("rbm", ...)`; the samplers are in `scratchgen.samplers`.
#
# Run it with `python tutorials/09_energy_models.py`, or open it as a notebook.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from scipy.special import logsumexp

from scratchgen import data, models, samplers, train, viz
from scratchgen.metrics import mode_coverage

QUICK = os.environ.get("SCRATCHGEN_QUICK") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The partition function problem
#
# The log-likelihood of one example is -E_theta(x) - log Z(theta). Its gradient has two terms,
#
#     grad_theta log p(x) = -grad_theta E(x) + E_{x' ~ p_theta} [grad_theta E(x')],
#
# because grad log Z = (1/Z) int -grad E exp(-E) dx = -E_p[grad E]. The first term pushes the
# energy of the data down; the second pushes up the energy where the model puts its mass. The
# second needs samples from the model itself, which is the whole difficulty of training EBMs.
#
# Check the identity on a 1-D family where Z is a quadrature: the double well
# E_theta(x) = theta_1 x^4 + theta_2 x^2.

# %%
x_grid = np.linspace(-4, 4, 20_001)
dx = x_grid[1] - x_grid[0]


def double_well(theta, x):
    return theta[0] * x**4 + theta[1] * x**2


def log_z(theta):
    return logsumexp(-double_well(theta, x_grid)) + np.log(dx)


theta = np.array([0.25, -1.0])
p = np.exp(-double_well(theta, x_grid) - log_z(theta))
features = np.stack([x_grid**4, x_grid**2])  # dE/dtheta
h = 1e-6
finite_difference = [(log_z(theta + h * e) - log_z(theta - h * e)) / (2 * h) for e in np.eye(2)]
expectation = -(features * p).sum(axis=1) * dx
print("d log Z / d theta by differences:      ", np.round(finite_difference, 6))
print("-E_p[dE/dtheta] by the model's density:", np.round(expectation, 6))

# %% [markdown]
# ## 2. Contrastive divergence with short-run Langevin
#
# Replace the expectation under p_theta by samples x- of a short MCMC run (Hinton 2002), and
# the loss whose gradient is the likelihood's becomes the *surrogate*
#
#     L = mean E(x+) - mean E(x-) + alpha (mean E(x+)^2 + mean E(x-)^2),
#
# the samples held constant (`models.energy.contrastive_divergence`; the penalty alpha of Du &
# Mordatch 2019 keeps the energies near zero, since L itself is unbounded below). The chains
# are Langevin dynamics on s(x) = -grad_x E(x):
#
#     x <- x + (epsilon / 2) s(x) + sqrt(epsilon) z.
#
# What to watch: L is not a likelihood and does not go down steadily. The energies of the data
# and of the chains, and their gap, are the model's diagnostics; the trainer logs them each
# step and stops if one runs away (`energy_limit`). A gap stuck far below zero means the chains
# are not reaching the data; energies drifting off together mean alpha is too small.

# %%
mixture = data.load("eight_gaussians")
toy = dict(hidden=[64, 64], step_size=None, grad_clamp=0.0, noise=0.1, langevin_steps=20,
           buffer_size=2000)  # fmt: skip
ebm = models.create("ebm", mixture.info, seed=0, **toy)
steps = 20 if QUICK else 1000
trainer = train.Trainer(ebm, mixture, train.TrainConfig(steps=steps, batch_size=128, lr=3e-3,
                                                        eval_every=10**9, log_every=10),
                        progress=False)  # fmt: skip
trainer.fit()
entropy = -float(np.mean(mixture.log_density(mixture.test)))


def kl_gap(model):
    """KL(data || model) = test NLL - H(data), with log Z on a grid (2-D: exact enough)."""
    nll = -float(np.mean(model.log_prob(mixture.test, log_z=model.log_normalizer()).data))
    return nll - entropy


print(f"CD, {steps} steps: KL(data || model) = {kl_gap(ebm):.3f} nats")

fig, axes = plt.subplots(1, 3, figsize=(13, 4))
log_z_ebm = ebm.log_normalizer()
viz.density(lambda x: ebm.log_prob(x, log_z=log_z_ebm).data, ax=axes[0], title="exp(-E) / Z")
viz.scatter(ebm.sample(1000, rng, steps=200), mixture.test[:1000], ax=axes[1],
            title="200 Langevin steps from noise")  # fmt: skip
for key in ("energy_data", "energy_samples", "energy_gap"):
    axes[2].plot([r["step"] for r in trainer.history], [r[key] for r in trainer.history],
                 label=key)  # fmt: skip
axes[2].legend()
axes[2].set_xlabel("step")
axes[2].set_title("the diagnostics of CD")
plt.show()

# %% [markdown]
# ## 3. The step size, and the temperature it hides
#
# Langevin's step pairs the drift epsilon / 2 with the noise sqrt(epsilon): under that pairing
# p is stationary as epsilon -> 0. Much EBM code writes the step as
# x <- x - lambda grad E(x) + sigma z with lambda and sigma set apart (lambda = 10 and
# sigma = 0.005 in Du & Mordatch's). That is Langevin with epsilon = sigma^2 on the target
# p^(1/T), T = sigma^2 / (2 lambda) = 1.25e-6: the chains seek the modes of E and do not sample
# p. On E(x) = x^2 / 2 the chain samples N(0, T), with the unadjusted step's O(epsilon)
# bias: its variance is T / (1 - epsilon / (4 T)) = T / (1 - lambda / 2). (Du & Mordatch's
# lambda = 10 would diverge on this E; their gradients are clipped and their energies flat.)

# %%
x0 = rng.standard_normal((4000, 1))
chain_steps = 300 if QUICK else 3000
for lam, sigma in ((0.045, 0.3), (0.5, 1.0), (0.01, 0.005)):
    T = sigma**2 / (2 * lam)
    x = samplers.langevin(lambda x, T=T: -x / T, x0 * np.sqrt(T), sigma**2, chain_steps, rng)
    predicted = T / (1 - sigma**2 / (4 * T))
    print(
        f"lambda {lam:<6g} sigma {sigma:<6g}: T = {T:.3g}, variance {np.var(x):.3g} "
        f"(predicted {predicted:.3g})"
    )

# %% [markdown]
# The `ebm` model takes `step_size` (lambda) and `noise` (sigma) in this decoupled form and says
# which T they give; `step_size=None` sets lambda = sigma^2 / 2, plain Langevin on p (the 2-D
# runs above), which is what a density estimate needs.
#
# ## 4. The replay buffer
#
# Twenty Langevin steps from uniform noise rarely reach a mode. Du & Mordatch keep a buffer of
# chains and start each step's chains where earlier ones ended (95% of them; 5% from fresh
# noise), so that short runs add up to long chains (`models.energy.replay.ReplayBuffer`).
# Compare reinit = 1 (every chain fresh: plain short-run CD) with 0.05 at the same cost of 5
# Langevin steps a training step, by the negatives each trains against (the buffer's chains
# at the end: the fraction within 3 sd of one of the eight modes) and by the density's KL:

# %%
centres, std = mixture.extras["modes"]
for reinit in (1.0, 0.05):
    model = models.create("ebm", mixture.info, seed=0, **{**toy, "langevin_steps": 5,
                                                          "reinit": reinit})  # fmt: skip
    train.fit(model, mixture, progress=False, steps=20 if QUICK else 800, batch_size=128,
              lr=3e-3, eval_every=10**9)  # fmt: skip
    negatives = model.sample(1000, rng, from_buffer=True)
    near = mode_coverage(negatives, centres, std)["high_quality"]
    print(
        f"reinit {reinit}: {100 * near:.0f}% of the negatives near a mode, "
        f"KL = {kl_gap(model):.3f} nats"
    )

# %% [markdown]
# The buffer's negatives are long-run chains, near the modes; fresh five-step chains are
# still mostly the uniform noise they started from. On this 2-D toy the densities come out
# about as good either way (over two seeds the KL differs by less than 0.1 nats, either
# side): a smooth 2-D energy can be shaped against poor negatives. On images, where five steps
# from noise look nothing like data, the buffer is what makes short runs work at all.

# %% [markdown]
# ## 5. Restricted Boltzmann machines
#
# An RBM is an energy over visible v and hidden h binary units,
# E(v, h) = -b^T v - c^T h - v^T W h, with no connections within a layer. Summing h out gives
# the free energy F(v) = -b^T v - sum_j softplus(c_j + v^T W_:j), so p(v) = exp(-F(v)) / Z, and
# both conditionals factorise, which makes block Gibbs sampling cheap. With few hidden units,
# Z is a sum over 2^H hidden states: we can compute the exact test log-likelihood and compare
# training methods honestly. CD-k starts the k Gibbs sweeps from the data; persistent CD
# (Tieleman 2008) keeps chains running across steps. Here, with 16 hidden units and a fixed
# learning rate, CD-1's bias is small and the two land within about a nat of each other (CD-1
# ahead, on our runs); the RBM results table in the README compares them at 500 hidden units.

# %%
digits = data.load("digits_binary")
rbm_steps = 20 if QUICK else 1500
rbms = {}
for name, settings in (("CD-1", {}), ("PCD-1", {"persistent": True})):
    rbm = models.create("rbm", digits.info, hidden=16, seed=0, **settings)
    train.fit(rbm, digits, progress=False, steps=rbm_steps, batch_size=32, lr=0.01,
              eval_every=10**9)  # fmt: skip
    rbms[name] = rbm
    log_z_exact = rbm.exact_log_partition()
    test_log_p = float(np.mean(rbm.log_prob(digits.test, log_z=log_z_exact).data))
    print(f"{name}: log Z = {log_z_exact:.3f} (2^16 states), test log p = {test_log_p:.2f} nats")

fig, axes = plt.subplots(1, 2, figsize=(8, 4))
for ax, (name, rbm) in zip(axes, rbms.items()):
    ax.imshow(viz.tile(rbm.sample(36, rng, steps=50 if QUICK else 500), 2, 6),
              interpolation="nearest")  # fmt: skip
    ax.set_title(f"{name}: Gibbs samples")
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 6. Annealed importance sampling for log Z
#
# With 500 hidden units the sum has 2^500 terms. AIS (Neal 2001; for RBMs, Salakhutdinov &
# Murray 2008) walks from a base model A with known Z_A (independent visible units at the
# data's rates) to the RBM through intermediate p_beta ~ p_A^(1 - beta) p^beta, with a Gibbs
# sweep at each beta; each chain's weight w = prod_k p*_beta_k(v_k) / p*_beta_k-1(v_k) has
# E[Z_A w] = Z. The estimate of Z is unbiased, so that of log Z is low on average (Jensen):
# the log p it gives is optimistic. Checked against the exact log Z of the PCD model above:

# %%
rbm = rbms["PCD-1"]
exact = rbm.exact_log_partition()
for ais_steps in (10, 100) if QUICK else (10, 100, 1000, 10_000):
    log_w = rbm.ais_log_weights(np.random.default_rng(1), chains=100, steps=ais_steps)
    estimate = logsumexp(log_w) - np.log(len(log_w))
    print(
        f"AIS, {ais_steps:>5} temperatures: log Z = {estimate:.3f} (exact {exact:.3f}), "
        f"sd of log w {np.std(log_w):.3f}"
    )

# %% [markdown]
# ## 7. Noise-contrastive estimation
#
# NCE (Gutmann & Hyvarinen 2010) never samples the model. It adds a parameter c for -log Z,
# log p_m(u) = -E(u) + c, and trains a logistic regression that tells data from noise of known
# density p_n (here a Gaussian fitted to the data) on G(u) = log p_m(u) - log p_n(u). The
# regression's optimum is p_m = p_data, and then c = -log Z: the normaliser is learned like a
# weight. Compare -c with the grid's log Z (c = -log Z only at the regression's optimum, so a
# gap of a tenth of a nat says how far from it the network still is):

# %%
nce = models.create("ebm", mixture.info, objective="nce", hidden=[64, 64], seed=0)
nce_trainer = train.Trainer(nce, mixture, train.TrainConfig(steps=20 if QUICK else 2000,
                                                            batch_size=256, lr=3e-3,
                                                            eval_every=10**9, log_every=10),
                            progress=False)  # fmt: skip
nce_trainer.fit()
print(
    f"NCE: -c = {-float(nce.c.data):.3f}, log Z on a grid = {nce.log_normalizer():.3f}; "
    f"KL = {kl_gap(nce):.3f} nats"
)
plt.plot(
    [r["step"] for r in nce_trainer.history],
    [r["log_normalizer"] for r in nce_trainer.history],
    label="-c (learned)",
)
plt.axhline(nce.log_normalizer(), color="k", linestyle="--", label="log Z (grid), at the end")
plt.xlabel("step")
plt.legend()
plt.title("NCE learns its normaliser")
plt.show()

# %% [markdown]
# ## Where next
#
# Score matching (tutorial 10) fits -grad E without sampling the model and without Z at all,
# and leads to the score-based and diffusion models.
