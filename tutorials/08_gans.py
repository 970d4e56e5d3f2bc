# %% [markdown]
# # 08 · Generative adversarial networks: learning without a likelihood
#
# Every model so far could score its data: log p(x) exactly, or a bound on it. A GAN gives that
# up. Its generator G maps noise z ~ N(0, I) to a sample G(z) and defines p_G only implicitly;
# it learns from a second network, the discriminator D, trained to tell data from samples. The
# chapter:
#
# 1. likelihood-free learning as a two-sample test;
# 2. the minimax game and the optimal discriminator D* = p_data / (p_data + p_G), checked;
# 3. why the generator's minimax loss saturates, and the non-saturating fix, measured;
# 4. f-divergences and the Fenchel conjugate: the variational bound of f-GAN, tight at T*;
# 5. Wasserstein distance and the Lipschitz constraint: clipping, gradient penalty, spectral
#    norm;
# 6. mode collapse, measured by the VEEGAN / PacGAN protocol, and packing as a remedy;
# 7. conditional generation: a class-conditional DCGAN;
# 8. inference with BiGAN: an encoder learned adversarially.
#
# The trainer runs two players: a model lists its `players` (discriminator, then generator),
# `player_loss(name, x)` and `updates` (n_critic), and the trainer keeps one optimizer each.
#
# Run it with `python tutorials/08_gans.py`, or open it as a notebook.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import autodiff as ad
from scratchgen import data, models, optim, train, viz
from scratchgen.divergences import F_DIVERGENCES
from scratchgen.metrics import mmd_test, mode_coverage
from scratchgen.models.gan import OBJECTIVES, gradient_penalty
from scratchgen.models.gan.players import Discriminator

QUICK = os.environ.get("SCRATCHGEN_QUICK") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Learning without a likelihood: the two-sample view
#
# Without log p_G(x) we can still ask whether two samples, data and model, come from the same
# distribution: a two-sample test. The kernel MMD test of the evaluation chapter is one; a
# classifier trained to separate the samples is another, and its accuracy above 1/2 is
# evidence against p_G = p_data. A GAN turns the classifier into the training signal: the
# generator moves its samples where the classifier is least sure.

# %%
moons = data.load("two_moons")
shifted = moons.test[:500] + np.array([0.3, 0.0])
for label, other in (("data vs data", moons.train[:500]), ("data vs shifted", shifted)):
    statistic, p_value = mmd_test(moons.test[:500], other, permutations=200,
                                  rng=np.random.default_rng(1))  # fmt: skip
    print(f"MMD test, {label}: statistic {statistic:.4f}, p = {p_value:.3f}")

# %% [markdown]
# ## 2. The minimax game and the optimal discriminator
#
# Goodfellow et al. (2014, eq. 1) play
#
#     min_G max_D V(D, G) = E_x log D(x) + E_z log(1 - D(G(z))).
#
# For a fixed G, V is maximised pointwise by D*(x) = p_data(x) / (p_data(x) + p_G(x))
# (their proposition 1), and then V = 2 JS(p_data || p_G) - log 4: the generator minimises a
# Jensen-Shannon divergence. Check D* by training a discriminator alone between N(0, 1) and a
# frozen "generator" N(1.5, 0.7^2).

# %%
D = Discriminator((1,), "mlp", [32, 32], 0, 0, "concat", 1, False,
                  rng=np.random.default_rng(1), dtype=np.float64)  # fmt: skip
adam = optim.Adam(list(D.parameters()), 3e-3)
for _ in range(50 if QUICK else 800):
    real, fake = rng.standard_normal((256, 1)), 1.5 + 0.7 * rng.standard_normal((256, 1))
    loss = OBJECTIVES["ns"].discriminator(D(real), D(fake))  # the cross-entropy
    adam.zero_grad()
    loss.backward()
    adam.step()
x = np.linspace(-3, 4, 200)[:, None]
p, q = np.exp(-0.5 * x**2), np.exp(-0.5 * ((x - 1.5) / 0.7) ** 2) / 0.7
with ad.no_grad():
    d_of_x = 1 / (1 + np.exp(-D(x).data))
plt.plot(x, p / (p + q), label="D* = p / (p + q)")
plt.plot(x, d_of_x, "--", label="trained D")
plt.legend()
plt.title("the optimal discriminator")
plt.show()

# %% [markdown]
# ## 3. Why the generator's loss saturates
#
# Early on D rejects samples confidently: D(G(z)) ~ 0, that is its logit v is very negative.
# The minimax generator minimises log(1 - sigmoid(v)), whose gradient in v is -sigmoid(v):
# about 0 exactly when G is worst. The non-saturating loss -log sigmoid(v) has gradient
# -(1 - sigmoid(v)), about -1 there, with the same fixed point (their section 3).

# %%
v = ad.Tensor(np.array([-8.0, -4.0, 0.0, 4.0]), requires_grad=True)
for name in ("minimax", "ns"):
    (g,) = ad.grad(OBJECTIVES[name].generator(v) * len(v.data), v)
    print(f"{name:8s} generator gradient dL/dv at v = {v.data}: {np.round(g.data, 4)}")

# %% [markdown]
# ## 4. f-divergences and the Fenchel conjugate
#
# For a convex f with f(1) = 0, D_f(P || Q) = E_Q f(p/q). Its conjugate f*(t) = sup_u (ut -
# f(u)) gives a lower bound for every critic T (Nowozin et al. 2016, eq. 4):
#
#     D_f(P || Q) >= E_P T(x) - E_Q f*(T(x)),   with equality at T* = f'(p / q).
#
# An f-GAN trains T = g_f(V(x)) to raise the bound and G to lower it. Check, by quadrature on
# two Gaussians, that T* attains D_f and a perturbed critic falls short, for each divergence
# of `scratchgen.divergences` (`js` is the f of 2 JS; `gan`'s value is 2 JS - log 4).

# %%
grid = np.linspace(-12, 12, 24001)
dx = grid[1] - grid[0]
P = np.exp(-0.5 * grid**2) / np.sqrt(2 * np.pi)
Q = np.exp(-0.5 * ((grid - 0.5) / 1.2) ** 2) / (1.2 * np.sqrt(2 * np.pi))
for name, d in F_DIVERGENCES.items():
    divergence = np.sum(Q * d.f(P / Q)) * dx
    t_star = d.f_prime(P / Q)
    bound = np.sum(P * t_star) * dx - np.sum(Q * d.f_star(t_star)) * dx
    worse = 0.9 * t_star  # another critic (inside dom f* for these)
    lower = np.sum(P * worse) * dx - np.sum(Q * d.f_star(worse)) * dx
    print(
        f"{name:10s} D_f = {divergence:.5f}   bound at T* = {bound:.5f}   at 0.9 T* = {lower:.5f}"
    )

# %% [markdown]
# ## 5. Wasserstein distance and the Lipschitz constraint
#
# WGAN (Arjovsky et al. 2017) replaces the divergence by W1(P, Q) = sup over 1-Lipschitz f of
# E_P f - E_Q f, finite and informative even for distributions with disjoint supports. Three
# ways to keep the critic Lipschitz: clip its weights (WGAN), penalise its gradient norm on
# interpolates, lambda E (||grad f(x_hat)|| - 1)^2 (WGAN-GP, Gulrajani et al. 2017), or divide
# each layer by its largest singular value (spectral norm, Miyato et al. 2018).
#
# A penalised critic between N(0, 1) and N(2, 1), where W1 = 2. The penalty only discourages
# slopes above 1, so over f = a x the penalised objective 2|a| - lambda (|a| - 1)^2 peaks at
# |a| = 1 + 1 / lambda: the estimate tends to 2 (1 + 2 / (2 lambda)) = 2.2 for lambda = 10.

# %%
critic = Discriminator((1,), "mlp", [32, 32], 0, 0, "concat", 1, False,
                       rng=np.random.default_rng(1), dtype=np.float64)  # fmt: skip
adam = optim.Adam(list(critic.parameters()), 1e-3, betas=(0.5, 0.9))
for _ in range(50 if QUICK else 600):
    real, fake = rng.standard_normal((256, 1)), 2.0 + rng.standard_normal((256, 1))
    loss = OBJECTIVES["wgan_gp"].discriminator(critic(real), critic(fake))
    loss = loss + 10.0 * gradient_penalty(critic, real, fake, rng)
    adam.zero_grad()
    loss.backward()
    adam.step()
with ad.no_grad():
    real, fake = rng.standard_normal((20000, 1)), 2.0 + rng.standard_normal((20000, 1))
    print(f"critic's estimate of W1: {np.mean(critic(real).data) - np.mean(critic(fake).data):.3f}"
          " (W1 = 2; the penalised optimum 2.2)")  # fmt: skip

# %% [markdown]
# ## 6. Mode collapse, measured
#
# A generator can fool today's discriminator by putting all its mass on a few modes. The
# VEEGAN / PacGAN protocol on the 5 x 5 grid of Gaussians counts it: of 2500 samples, those
# within 3 standard deviations of their nearest mode are "high quality", and a mode is
# captured when it is the nearest of one of them. PacGAN (Lin et al. 2018) shows the
# discriminator m samples at once, so that it sees a lack of diversity; the full table, over
# seeds and every objective, is `python -m benchmarks.gans modes`.

# %%
grid25 = data.load("grid25")
centres, std = grid25.extras["modes"]
fig, axes = plt.subplots(1, 2, figsize=(8, 4))
for ax, pack in zip(axes, (1, 2)):
    gan = models.create("gan", grid25.info, loss="ns", latent=2, hidden=[128, 128], pack=pack)
    train.fit(gan, grid25, progress=False, steps=20 if QUICK else 2000, batch_size=256,
              lr_d=1e-3, lr_g=1e-3, eval_every=10**9)  # fmt: skip
    samples = gan.sample(2500, np.random.default_rng(0))
    scores = mode_coverage(samples, centres, std)
    viz.scatter(samples, grid25.test[:2500], ax=ax,
                title=f"pack {pack}: {scores['modes']} modes, "
                      f"{100 * scores['high_quality']:.0f}% high quality")  # fmt: skip
plt.show()

# %% [markdown]
# ## 7. Conditional generation
#
# A class-conditional GAN feeds the label to both players: the generator reads [z, e(y)], and
# the projection discriminator (Miyato & Koyama 2018) scores psi(phi(x)) + e(y)^T phi(x).
# Each row below asks for one digit.

# %%
digits = data.load("digits")
dcgan = models.create("gan", digits.info, num_classes=10, filters=16, latent=16)
train.fit(dcgan, digits, progress=False, steps=20 if QUICK else 1500, batch_size=64,
          lr_d=5e-4, lr_g=5e-4, eval_every=10**9)  # fmt: skip
viz.image_grid(dcgan.sample(60, np.random.default_rng(0), y=np.arange(60) // 6), levels=17)
plt.show()

# %% [markdown]
# ## 8. Inference with BiGAN
#
# BiGAN (Donahue et al. 2017) learns an encoder E with the generator, against a discriminator
# of pairs D(x, z): real pairs (x, E(x)), fake pairs (G(z), z). When the two joint
# distributions agree, E inverts G, so G(E(x)) reconstructs x, though no loss ever asked for
# a reconstruction.

# %%
bigan = models.create("bigan", digits.info, latent=16, filters=16)
train.fit(bigan, digits, progress=False, steps=20 if QUICK else 1500, batch_size=64,
          lr_d=5e-4, lr_g=5e-4, eval_every=10**9)  # fmt: skip
originals = digits.test[:10]
viz.image_grid(np.concatenate([originals, bigan.reconstruct(originals)]), levels=17)
plt.title("digits (top) and BiGAN's G(E(x)) (bottom)")
plt.show()
