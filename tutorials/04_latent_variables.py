# %% [markdown]
# # 04 · Latent-variable models: mixtures, EM, the ELBO, VAEs and IWAE
#
# A latent-variable model explains each x by a hidden cause z:
#
#     p(x) = ∫ p(x | z) p(z) dz.
#
# The integral is what makes it expressive and what makes it hard: log p(x) and its
# gradient need the posterior p(z | x), which we rarely have. This tutorial starts where the
# posterior is exact (a mixture, fitted by EM), derives the evidence lower bound two ways and
# checks the derivation on a model where every term is known, then amortises inference with
# an encoder (the VAE), compares the two gradient estimators the encoder could use, and ends
# with the importance-weighted bound closing in on log p(x).
#
# Run it with `python tutorials/04_latent_variables.py`, or open it as a notebook.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import autodiff as ad
from scratchgen import data, estimators, models, train, viz
from scratchgen import distributions as D

QUICK = os.environ.get("SCRATCHGEN_QUICK") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. A mixture is a latent-variable model, and EM fits it
#
# In a mixture of K Gaussians, z ∈ {1..K} picks the component. Its posterior is a finite
# sum, the *responsibility* γ_nk = p(z_n = k | x_n), so EM can alternate two closed forms:
# the E step computes γ, the M step refits each component to the points it is responsible
# for, weighted by γ (Bishop 2006, §9.2.2). Each round can only raise the log-likelihood: the
# E step makes the bound below touch log p(x), and the M step raises the bound. We fit the
# eight-Gaussians toy both ways: EM, and Adam on the log-likelihood, the same model.

# %%
eight = data.load("eight_gaussians")
by_em = models.create("gaussian_mixture", eight.info, components=16, covariance="full")
by_em.initialize(eight.train, np.random.default_rng(0))
history = by_em.fit_em(eight.train, steps=20 if QUICK else 150)
assert np.all(np.diff(history) > -1e-9), "EM never lowers the log-likelihood"
by_gradient = models.create("gaussian_mixture", eight.info, components=16, covariance="full")
metrics = train.fit(by_gradient, eight, progress=False, steps=100 if QUICK else 2000, lr=0.03,
                    batch_size=256, eval_every=10**9)  # fmt: skip
em_nll = -by_em.log_prob(eight.test).data.mean()
print(f"test NLL: EM {em_nll:.3f} nats after {len(history) - 1} steps, "
      f"Adam {metrics['test_nll']:.3f} after {metrics['steps']} minibatch steps")  # fmt: skip

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
left.plot(history, marker=".")
left.set_xlabel("EM step")
left.set_ylabel("mean log-likelihood (nats)")
left.set_title("EM: monotone by construction")
viz.density(lambda x: by_em.log_prob(x).data, (-3, 3, -3, 3), 120, title="the EM fit", ax=right)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 2. The ELBO, derived two ways
#
# For any distribution q(z) over the latents:
#
# *Jensen.* log p(x) = log E_q[p(x, z) / q(z)] ≥ E_q[log p(x, z) − log q(z)] = ELBO, because
# log is concave.
#
# *An identity.* Write log p(x) = log p(x, z) − log p(z | x) and average over q:
#
#     log p(x) = E_q[log p(x, z) − log q(z)] + E_q[log q(z) − log p(z | x)]
#              = ELBO(q) + KL(q(z) ‖ p(z | x)).
#
# The second derivation says more: the gap is exactly the KL divergence from q to the true
# posterior, so maximising the ELBO over q *is* approximate inference. In the linear-Gaussian
# model (probabilistic PCA) both log p(x) and p(z | x) are closed forms, so we can check the
# identity to rounding, for a q that we slide away from the posterior.

# %%
info = data.DataInfo((3,), "continuous")
pca = models.create("linear_gaussian", info, latent=1, dtype=np.float64)
pca.W.data[...] = [[1.5], [-0.8], [0.4]]
pca.log_sigma.data[...] = np.log(0.5)
x = np.array([[1.0, -0.5, 0.3]])
log_px = pca.log_prob(x).item()
posterior = pca.exact_posterior(x)
shifts = np.linspace(-1.5, 1.5, 61)
elbos, kls = [], []
for shift in shifts:
    q = D.MultivariateNormal(posterior.loc.data + shift, scale_tril=posterior.scale_tril.data)
    elbos.append(pca.elbo_closed_form(x, q).item())
    kls.append(D.kl_divergence(q, posterior).item())
np.testing.assert_allclose(log_px - np.array(elbos), kls, atol=1e-10)
print(f"log p(x) = {log_px:.4f}; at the posterior the ELBO is {max(elbos):.4f}")

plt.figure(figsize=(6, 4))
plt.axhline(log_px, color="k", label="log p(x)")
plt.plot(shifts, elbos, label="ELBO(q)")
plt.plot(shifts, log_px - np.array(kls), "--", label="log p(x) − KL(q ‖ p(z|x))")
plt.xlabel("mean of q minus posterior mean")
plt.legend()
plt.title("the gap is the KL to the posterior")
plt.show()

# %% [markdown]
# ## 3. Amortisation: one encoder instead of one q per example
#
# Optimising a separate q for every x is slow, and useless at test time. A VAE trains an
# encoder that outputs q(z | x) for any x (Kingma & Welling 2014). The linear-Gaussian
# model can be trained both ways: by exact maximum likelihood, or through the ELBO with a
# linear encoder. On data from a rank-1 Gaussian both find the same density, and the
# amortised ELBO (computed exactly here, no sampling) ends close to, and below, the exact
# log-likelihood. Trained by maximum likelihood, the encoder is never used, and its ELBO
# stays poor: the bound is only as good as the q it is evaluated with.

# %%
w = np.array([[2.0], [-1.0], [0.5]])
points = rng.standard_normal((4000, 1)) @ w.T + 0.3 * rng.standard_normal((4000, 3))
low_rank = data.from_array(points, kind="continuous")
for objective in ("likelihood", "elbo"):
    model = models.create("linear_gaussian", low_rank.info, latent=1, objective=objective)
    result = train.fit(model, low_rank, progress=False, steps=200 if QUICK else 1500, lr=0.02,
                       batch_size=200, eval_every=10**9)  # fmt: skip
    test = low_rank.test
    exact_elbo = model.elbo_closed_form(test, model.posterior(ad.Tensor(test))).data.mean()
    print(f"trained on the {objective:10s}: test NLL {result['test_nll']:.4f}, "
          f"its encoder's ELBO {-exact_elbo:.4f} (as a loss)")  # fmt: skip

# %% [markdown]
# ## 4. Two ways to differentiate an expectation
#
# The ELBO's gradient with respect to the encoder is a gradient of E_q[f(z)] with respect to
# q's parameters. The *pathwise* estimator writes z = μ + σε and differentiates through f;
# the *score-function* estimator uses ∇ E_q[f] = E_q[f(z) ∇ log q(z)] and needs no gradient
# of f. Both are unbiased; their variances differ by orders of magnitude. Here f(z) = (z − 2)²
# under N(μ, σ²), with the exact gradient 2(μ − 2) with respect to μ.

# %%
mu = ad.Tensor(0.5, requires_grad=True)
draws = 200 if QUICK else 2000


def f(z):
    return (z - 2.0) ** 2


pathwise = estimators.gradient_variance(
    lambda: estimators.pathwise(f, D.Normal(mu, 1.0), 1, rng), [mu], draws)  # fmt: skip
score = estimators.gradient_variance(
    lambda: estimators.score_function(f, D.Normal(mu, 1.0), 1, rng), [mu], draws)  # fmt: skip
print(f"exact gradient {2 * (0.5 - 2):.2f}; variance of one-sample estimates: "
      f"pathwise {pathwise:.2f}, score function {score:.2f}")  # fmt: skip

# %% [markdown]
# ## 5. A VAE on the binary digits
#
# Gaussian q(z | x) from an MLP encoder, Bernoulli p(x | z) from an MLP decoder, 16 latent
# dimensions. We report the test ELBO and an estimate of log p(x) by importance sampling
# (next section), look at samples and reconstructions, and count the *active units*:
# dimensions whose posterior mean varies with x (Burda et al. 2016, §5.2). The others have
# collapsed to the prior: their KL term is near zero, and the decoder ignores them.

# %%
digits = data.load("digits_binary")
vae = models.create("vae", digits.info, latent=16, hidden=(256,))
result = train.fit(vae, digits, progress=False, steps=100 if QUICK else 3000, batch_size=64,
                   lr=3e-3, eval_every=10**9)  # fmt: skip
kl = vae.kl_per_dimension(digits.test)
print(f"test ELBO {result['test_elbo']:.2f} nats, log p(x) ≈ {-result['test_nll']:.2f}; "
      f"active units {vae.active_units(digits.test)} of 16")  # fmt: skip

fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
axes[0].imshow(viz.tile(vae.sample(32, rng), None, 8), interpolation="nearest")
axes[0].set_title("samples")
pairs = np.concatenate([digits.test[:8], vae.reconstruct(digits.test[:8])])
axes[1].imshow(viz.tile(pairs, None, 8), interpolation="nearest")
axes[1].set_title("test digits, and their reconstructions")
for ax in axes[:2]:
    ax.axis("off")
axes[2].bar(range(16), np.sort(kl)[::-1])
axes[2].set_xlabel("latent dimension (sorted)")
axes[2].set_ylabel("KL(q(z_d | x) ‖ p(z_d)), nats")
axes[2].set_title("where the information goes")
plt.tight_layout()
plt.show()

# %% [markdown]
# Walking in latent space: the posterior means of two test digits, and the decoder's mean
# image at eight evenly spaced points on the straight line between them.

# %%
with ad.no_grad():
    ends = vae.posterior(ad.Tensor(digits.test[:2].astype(np.float32))).base.loc.data
path = ends[0] + np.linspace(0, 1, 8)[:, None] * (ends[1] - ends[0])
plt.figure(figsize=(8, 1.6))
plt.imshow(viz.tile(vae.decode_mean(path), None, 8), interpolation="nearest")
plt.axis("off")
plt.title("interpolating between two test digits")
plt.show()

# %% [markdown]
# ## 6. The importance-weighted bound closes in on log p(x)
#
# Averaging K importance weights inside the logarithm gives a tighter bound (Burda et al.
# 2016): L_K = E[log (1/K) Σ_k p(x, z_k)/q(z_k | x)], with L_1 = ELBO ≤ L_K ≤ L_{K+1} ≤
# log p(x). On the trained VAE the test-set average rises with K and flattens: the flat
# part is our estimate of log p(x).

# %%
ks = [1, 5, 50] if QUICK else [1, 2, 5, 20, 100, 500]
with ad.no_grad():
    bounds_k = [vae.iwae_bound(digits.test, k).data.mean() for k in ks]
for k, value in zip(ks, bounds_k):
    print(f"K = {k:4d}: L_K = {value:.3f} nats")
plt.figure(figsize=(5, 3.5))
plt.semilogx(ks, bounds_k, marker="o")
plt.xlabel("K")
plt.ylabel("mean L_K on the test digits (nats)")
plt.title("IWAE bound against K")
plt.show()
