# %% [markdown]
# # 11 · Diffusion models
#
# Chapter 10 learned the score of data blurred by a ladder of noise levels and walked down the
# ladder with Langevin dynamics. Diffusion models make the ladder a process: a fixed forward
# chain that destroys the data, and a learned reverse chain that rebuilds it. The chapter:
#
# 1. the forward process and its closed-form marginals;
# 2. the ELBO, and why it becomes L_simple: denoising score matching seen again;
# 3. DDIM: a non-Markovian process with the same marginals, and its deterministic encoder;
# 4. the SDE view: the reverse SDE and the probability-flow ODE;
# 5. exact likelihood by the instantaneous change of variables;
# 6. the cost in function evaluations, and a trained model.
#
# Every sampler in `scratchgen.diffusion` takes a plain function of ndarrays, so the chapter
# checks them first on data whose noised score is a closed form
# (`scratchgen.diffusion.targets`), with no training at all; the registered models `ddpm` and
# `score_sde` wrap the same functions around a network.
#
# Run it with `python tutorials/11_diffusion.py`, or open it as a notebook.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import autodiff as ad
from scratchgen import data, diffusion, metrics, models, optim, train
from scratchgen.diffusion.targets import GaussianData, GaussianMixtureData

QUICK = os.environ.get("SCRATCHGEN_QUICK") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The forward process
#
# q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I) shrinks the signal and adds noise.
# Composing Gaussians gives every marginal at once (Ho et al. 2020, eq. 4):
#
#     x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps,   alpha_bar_t = prod (1 - beta_s).
#
# Check it: run the chain step by step, and compare with the closed form. The linear schedule
# (beta from 1e-4 to 0.02 over 1000 steps) ends at alpha_bar_T = 4e-5: x_T is noise. The
# cosine schedule (Nichol & Dhariwal 2021) spends fewer steps near pure noise.

# %%
schedule = diffusion.NoiseSchedule("linear", 1000)
cosine = diffusion.NoiseSchedule("cosine", 1000)
x0 = np.full((20000, 1), 1.5)
x = x0.copy()
for beta in schedule.betas[:300]:
    x = np.sqrt(1 - beta) * x + np.sqrt(beta) * rng.standard_normal(x.shape)
mean, std = schedule.q_mean_std(x0, 299)
print(f"after 300 steps: simulated mean {x.mean():.4f}, sd {x.std():.4f}; "
      f"closed form {mean[0, 0]:.4f}, {std[0, 0]:.4f}")  # fmt: skip
print(f"alpha_bar_T: linear {schedule.alpha_bar[-1]:.1e}, cosine {cosine.alpha_bar[-1]:.1e}")

plt.plot(schedule.alpha_bar, label="linear")
plt.plot(cosine.alpha_bar, label="cosine")
plt.xlabel("step t")
plt.ylabel("alpha_bar_t")
plt.legend()
plt.show()

# %% [markdown]
# ## 2. The ELBO, and L_simple
#
# The reverse chain p(x_{t-1} | x_t) = N(mu_theta(x_t, t), sigma_t^2 I) is fitted by the ELBO.
# Its terms are KLs between Gaussians, because the forward posterior q(x_{t-1} | x_t, x_0) is
# Gaussian (eq. 7): L_vlb = L_T + sum_t L_{t-1} + L_0. Writing mu_theta as the posterior mean at
# the network's guess of x_0 from a guess of the noise, each L_{t-1} becomes a weighted
# squared error of the noise (eq. 12). Drop the weights and you have
#
#     L_simple = E ||eps - eps_theta(sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, t)||^2,
#
# which is denoising score matching: by Tweedie's formula the best eps_theta is
# E[eps | x_t] = -sqrt(1 - alpha_bar_t) grad log q_t(x_t). So a noise predictor *is* a score.
#
# Check the bound where it must be tight: on data N(0, I) every marginal is N(0, I), the true
# reverse step is N(sqrt(alpha_t) x_t, beta_t I), and with the exact eps and sigma_t^2 = beta_t
# the model is the truth, so E L_vlb equals the NLL. With sigma_t^2 = beta~_t (the posterior's
# variance, the other choice of Ho et al.) the bound is loose.

# %%
standard = GaussianData([0.0, 0.0], np.eye(2))
short = diffusion.NoiseSchedule("linear", 200)
x0 = standard.sample(500 if QUICK else 2000, rng)
for variance in ("beta", "posterior"):
    bound = diffusion.variational_bound(short, standard.schedule_eps(short), x0, rng,
                                        decoder="gaussian", variance=variance)  # fmt: skip
    print(f"sigma^2 = {variance:9s}: E L_vlb = {bound['total'].mean():.3f} nats "
          f"(+- {bound['total'].std() / np.sqrt(len(x0)):.3f}), exact NLL "
          f"{-standard.log_prob(x0).mean():.3f}")  # fmt: skip

# %% [markdown]
# ### Learning the variance
#
# Nichol & Dhariwal (2021) let the network choose: a second output v interpolates the two
# choices in log space, log sigma_t^2 = (v + 1) / 2 log beta_t + (1 - v) / 2 log beta~_t
# (eq. 15), and the loss becomes L_hybrid = L_simple + lambda L_vlb (eq. 16) with the mean
# held fixed inside L_vlb, so that the bound trains only v. Here the mean is exact and v is a
# table v[t], started at -1 (beta~_t); for N(0, I) data the true reverse variance is beta_t,
# so v should climb to 1 wherever the two choices differ (the first few steps; later
# log beta_t and log beta~_t nearly agree and the bound hardly cares what v is).

# %%
forty = diffusion.NoiseSchedule("linear", 40)
exact_eps = standard.schedule_eps(forty)
table = ad.Tensor(np.full((forty.T, 1), -1.0), requires_grad=True)
adam = optim.Adam([table], lr=0.03)


def exact_mean_learned_v(x_t, t):
    v = ad.one_hot(t, forty.T, np.float64) @ table
    return ad.Tensor(exact_eps(x_t.data, t)), v * ad.Tensor(np.ones(x_t.shape))


for _ in range(150 if QUICK else 400):
    loss = diffusion.hybrid_loss(exact_mean_learned_v, standard.sample(1024, rng), forty, rng,
                                 weight=1.0)  # fmt: skip
    adam.zero_grad()
    loss.backward()
    adam.step()
gap = np.log(forty.betas) - forty.posterior_log_variance
print("log beta - log beta~ :", np.round(gap[:8], 2))
print("learned v[t]         :", np.round(table.data[:8, 0], 2))

# %% [markdown]
# ## 3. DDIM: the same marginals, fewer steps
#
# L_simple only ever sees the marginals q(x_t | x_0). Song, Meng & Ermon (2021) built a family
# of non-Markovian forward processes with exactly those marginals; their reverse step (eq. 12)
#
#     x' = sqrt(a') x0_hat + sqrt(1 - a' - sigma^2) eps_theta + sigma z
#
# can skip steps, and at eta = 0 (sigma = 0) it is deterministic, so x_0 -> x_T can be run
# forwards too (an encoder). Here the exact eps of a Gaussian mixture: DDIM with 20, 100 and
# 1000 steps against the 1000-step ancestral chain, and an encode-decode round trip. (MMD^2 is
# the unbiased estimate: near zero, and sometimes below it, when the samples match.)

# %%
mixture = GaussianMixtureData([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]], 0.4, [0.5, 0.3, 0.2])
eps_fn = mixture.schedule_eps(schedule)
truth = mixture.sample(1000, rng)
n = 500 if QUICK else 1000
ancestral = diffusion.ddpm_ancestral(schedule, eps_fn, (n, 2), rng)
print(f"ancestral, 1000 steps: MMD^2 to the data {metrics.mmd(ancestral, truth):.4f}")
for steps in (20, 100, 1000):
    x = diffusion.ddim(schedule, eps_fn, (n, 2), rng, steps=steps)
    print(f"DDIM, {steps:4d} steps: MMD^2 {metrics.mmd(x, truth):.4f}")
x0 = mixture.sample(5, rng)
back = diffusion.ddim(schedule, eps_fn, x0.shape, rng, steps=200,
                      x_T=diffusion.ddim_encode(schedule, eps_fn, x0, steps=200))  # fmt: skip
print(f"encode then decode, 200 steps: largest error {np.abs(back - x0).max():.3f}")

# %% [markdown]
# ## 4. The SDE view
#
# Let the steps shrink: the forward chain becomes an SDE dx = f(x, t) dt + g(t) dW (Song et al.
# 2021). DDPM's chain is the variance-preserving SDE (VP), NCSN's levels the
# variance-exploding one (VE). Anderson's theorem reverses it,
#
#     dx = [f - g^2 grad log p_t(x)] dt + g dW_bar,
#
# and an ODE with the same marginals exists beside it, the probability-flow ODE
# dx/dt = f - 1/2 g^2 grad log p_t(x). With the mixture's exact noised score, every sampler
# should land on the mixture: Euler-Maruyama, predictor-corrector (Langevin corrections at each
# time), and the ODE by an adaptive Runge-Kutta solver.

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 4))
for ax, (name, sde) in zip(axes, [("VP", diffusion.VPSDE()), ("sub-VP", diffusion.SubVPSDE()),
                                  ("VE", diffusion.VESDE())]):  # fmt: skip
    score = mixture.sde_score(sde)
    pc = diffusion.predictor_corrector(sde, score, (n, 2), rng, steps=100 if QUICK else 500)
    ode, nfe = diffusion.probability_flow_ode(sde, score, (n, 2), rng, return_nfe=True)
    print(f"{name:6s}: PC MMD^2 {metrics.mmd(pc, truth):.4f}, ODE MMD^2 "
          f"{metrics.mmd(ode, truth):.4f} in {nfe} evaluations")  # fmt: skip
    ax.scatter(*truth.T, s=2, c="lightgrey")
    ax.scatter(*ode.T, s=2)
    ax.set_title(f"{name}: the probability-flow ODE")
plt.show()

# %% [markdown]
# ## 5. Exact likelihood through the ODE
#
# The ODE is a continuous normalising flow (chapter 7), so
#
#     log p_0(x) = log p_T(x(T)) + int_0^T div(f - 1/2 g^2 s)(x(t), t) dt,
#
# solved alongside x. The drift is linear, so only the score's divergence costs anything: D
# directional derivatives exactly, or one by Hutchinson's estimator, unbiased. On a Gaussian
# the answer is a closed form; the prior N(0, I) ignores the data's mean (p_T keeps it,
# scaled by 0.0066 for VP), so the check is on zero-mean data. Hutchinson's single probe is
# noisy here, about a nat per draw: its variance is made of the Jacobian's off-diagonal
# entries, large for this correlation of 0.8; averaged over draws it converges to the exact.

# %%
gaussian = GaussianData([0.0, 0.0], [[1.0, 0.8], [0.8, 1.0]])
sde = diffusion.VPSDE()
x = gaussian.sample(5, rng)
exact = diffusion.ode_log_likelihood(sde, gaussian.sde_score(sde), x)
draws = np.stack([diffusion.ode_log_likelihood(sde, gaussian.sde_score(sde), x, rng,
                                               trace="hutchinson")
                  for _ in range(10 if QUICK else 50)])  # fmt: skip
print("closed form   ", np.round(gaussian.log_prob(x), 4))
print("ODE, exact    ", np.round(exact, 4))
print("ODE, Hutchinson, mean of draws", np.round(draws.mean(axis=0), 3),
      "+-", np.round(draws.std(axis=0) / np.sqrt(len(draws)), 3))  # fmt: skip

# %% [markdown]
# ## 6. A trained model, and what it costs
#
# `ddpm` and `score_sde` put a network in place of the closed form. Train both briefly on the
# two moons, sample the DDPM with its 1000-step chain and with 20 steps of DDIM (50 times
# fewer network evaluations), and read the score model's exact NLL. (A DDPM's log_prob is its
# bound, T network passes; a score model's, an ODE solve: both are left out of training's
# evaluations and given by `scratchgen eval`.) The trained models sample an average of their
# weights (decay 0.9999 as the papers, warmed up so that a short run is not averaged toward
# its initialisation).

# %%
moons = data.load("two_moons")
steps = 30 if QUICK else 3000
ddpm = models.create("ddpm", moons.info, hidden=[128, 128, 128])
trainer = train.Trainer(ddpm, moons, train.TrainConfig(steps=steps, batch_size=256, lr=3e-3,
                                                       schedule="cosine", eval_every=10**9),
                        progress=False)  # fmt: skip
trainer.fit()
with trainer.ema.applied(ddpm):
    chain = ddpm.sample(1000, rng)
    few = ddpm.sample(1000, rng, sampler="ddim", steps=20)
score_model = models.create("score_sde", moons.info, hidden=[128, 128, 128])
train.fit(score_model, moons, progress=False, steps=steps, batch_size=256, lr=3e-3,
          schedule="cosine", eval_every=10**9)  # fmt: skip
nll = -score_model.log_prob(moons.test[: 200 if QUICK else 1000]).data.mean()
entropy = -moons.log_density(moons.test[:20000]).mean()
print(f"score SDE: exact test NLL {nll:.3f} nats, KL gap {nll - entropy:.3f}")
drawn = {"1000 ancestral steps": chain, "20 DDIM steps": few}
for name, samples in drawn.items():
    w2 = metrics.wasserstein2(samples, moons.test[:1000])
    print(f"DDPM, {name}: W2 to the test set {w2:.3f}")
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
for ax, (name, samples) in zip(axes, drawn.items()):
    ax.scatter(*moons.test[:1000].T, s=2, c="lightgrey")
    ax.scatter(*samples.T, s=2)
    ax.set_title(f"DDPM, {name}")
plt.show()
