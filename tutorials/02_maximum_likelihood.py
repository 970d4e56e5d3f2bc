# %% [markdown]
# # 02 · Maximum likelihood is minimum KL divergence
#
# Every likelihood model in this course is trained the same way: make the data probable. This
# tutorial shows why that is the right thing to do (it minimises a divergence to the true
# distribution), why minibatches are enough (they give unbiased gradient estimates), and how
# far a model still is from the truth: on toy densities whose log-density we know exactly, the
# remaining KL divergence can be read off the test loss.
#
# Run it with `python tutorials/02_maximum_likelihood.py`, or open it as a notebook.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import autodiff as ad
from scratchgen import data, models, train, viz
from scratchgen import distributions as D
from scratchgen.data import toy2d

QUICK = os.environ.get("SCRATCHGEN_QUICK") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. From KL divergence to the log-likelihood
#
# The Kullback-Leibler divergence from the data distribution p to a model q,
#
#     KL(p || q) = E_p[log p(x) − log q(x)] = −H(p) + E_p[−log q(x)],
#
# is never negative and is zero only when q = p. Its first term, the entropy H(p), does not
# depend on the model. So minimising the KL over models is minimising the **cross-entropy**
# E_p[−log q(x)], and with samples x_1..x_n from p that expectation is estimated by the average
# negative log-likelihood:
#
#     NLL(q) = −(1/n) Σ_i log q(x_i)  →  E_p[−log q(x)]   as n → ∞.
#
# Below, p is a two-component mixture in one dimension, and q a single Gaussian N(μ, 1). The
# exact KL (computed by quadrature) and the NLL on 2000 samples are the same curve shifted by
# H(p), so they have the same minimiser.

# %%
p = D.MixtureSameFamily(D.Categorical(probs=np.array([0.3, 0.7])),
                        D.Normal(np.array([-2.0, 1.5]), np.array([0.6, 0.8])))  # fmt: skip
x = p.sample((2000,), rng=rng)
grid = np.linspace(-8, 8, 8001)
p_grid = np.exp(p.log_prob(grid).data)
entropy = -np.trapezoid(p_grid * np.log(p_grid + 1e-300), grid)  # 1e-300: 0 log 0 = 0

mus = np.linspace(-3, 3, 61)
log_p = np.log(p_grid + 1e-300)
exact_kl = [
    np.trapezoid(p_grid * (log_p - D.Normal(m, 1.0).log_prob(grid).data), grid) for m in mus
]
nll = [-np.mean(D.Normal(m, 1.0).log_prob(x).data) for m in mus]

plt.figure(figsize=(6, 3.5))
plt.plot(mus, exact_kl, label="KL(p || N(mu, 1)), exact")
plt.plot(mus, np.array(nll) - entropy, "--", label="NLL on 2000 samples − H(p)")
plt.xlabel("mu")
plt.legend()
plt.title("the log-likelihood and the KL share their minimiser")
plt.tight_layout()
plt.show()
best_kl, best_nll = mus[np.argmin(exact_kl)], mus[np.argmin(nll)]
print(f"H(p) = {entropy:.4f} nats; best mu by KL {best_kl:.2f}, by NLL {best_nll:.2f} "
      f"(the mean of p is {0.3 * -2 + 0.7 * 1.5:.2f})")  # fmt: skip

# %% [markdown]
# ## 2. Minibatch gradients are unbiased Monte Carlo estimates
#
# The gradient of the cross-entropy is an expectation too, ∇θ E_p[−log q_θ(x)] =
# E_p[−∇θ log q_θ(x)], so the average over a random minibatch of size B is an unbiased
# estimate of the full-data gradient, with a standard deviation that falls as 1/√B. That is
# what makes stochastic gradient descent work. We check both claims at a fixed θ.

# %%
mu = ad.Tensor(np.array(0.5), requires_grad=True)
log_sigma = ad.Tensor(np.array(0.2), requires_grad=True)


def nll_gradient(batch):
    loss = -ad.mean(D.Normal(mu, ad.exp(log_sigma)).log_prob(batch))
    return np.array([g.item() for g in ad.grad(loss, [mu, log_sigma])])


full = nll_gradient(x)
sizes = [4, 16, 64, 256]
spreads = []
for B in sizes:
    estimates = np.array(
        [nll_gradient(x[rng.choice(len(x), B)]) for _ in range(100 if QUICK else 400)]
    )
    spreads.append(estimates.std(axis=0))
    se = estimates.std(axis=0) / np.sqrt(len(estimates))
    gap = np.abs(estimates.mean(0) - full).max() / se.max()
    print(f"B = {B:4d}: mean estimate {estimates.mean(0).round(4)}, full gradient "
          f"{full.round(4)}, within {gap:.1f} standard errors")  # fmt: skip

plt.figure(figsize=(5, 3.5))
plt.loglog(sizes, np.array(spreads)[:, 0], "o-", label="d/d mu")
plt.loglog(sizes, np.array(spreads)[:, 1], "o-", label="d/d log sigma")
plt.loglog(sizes, spreads[0][0] * np.sqrt(sizes[0] / np.array(sizes)), "k:", label="1/sqrt(B)")
plt.xlabel("batch size B")
plt.ylabel("std of the estimate")
plt.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3. Fitting a Gaussian mixture by gradient descent
#
# The same recipe at scale: `scratchgen.models` has a Gaussian mixture, and `scratchgen.train`
# the loop every model shares (minibatches, Adam, evaluation on held-out data). Eight
# Gaussians arranged in a circle, fitted with sixteen components:

# %%
dataset = data.load("eight_gaussians")
model = models.create("gaussian_mixture", dataset.info, components=16)
metrics = train.fit(model, dataset, progress=False, steps=300 if QUICK else 2000, lr=0.03,
                    batch_size=256, eval_every=10**9)  # fmt: skip
print(metrics)

fig, axes = plt.subplots(1, 2, figsize=(9, 4.5))
viz.density(dataset.log_density, title="p_data", ax=axes[0])
with ad.no_grad():
    viz.density(lambda pts: model.log_prob(pts).data, title="the fitted mixture", ax=axes[1])
plt.show()

# %% [markdown]
# ## 4. The exact KL gap
#
# Because this toy density's log p_data is known exactly, its entropy H(p_data) = E[−log p_data]
# can be estimated on as many fresh samples as we like, and the model's remaining divergence is
#
#     KL(p_data || q) = test NLL − H(p_data).
#
# For real data (images, text) H(p_data) is unknown and only the NLL can be compared between
# models; here we can say how far from perfect each one is. More components help until the
# mixture can place one on each mode; a density made of circles (rings) is another matter.

# %%
h_data, h_se = toy2d.entropy(dataset.log_density, toy2d.eight_gaussians)
print(f"H(p_data) = {h_data:.4f} ± {h_se:.4f} nats; test NLL {metrics['test_nll']:.4f}; "
      f"KL gap {metrics['test_nll'] - h_data:.4f} nats")  # fmt: skip

results = {}
for name in ["eight_gaussians", "rings"]:
    d = data.load(name)
    h, _ = toy2d.entropy(d.log_density, toy2d.TOYS[name][0], n=50_000)
    for k in [1, 4, 16] if QUICK else [1, 2, 4, 8, 16, 32]:
        m = models.create("gaussian_mixture", d.info, components=k)
        score = train.fit(m, d, progress=False, steps=200 if QUICK else 1500, lr=0.03,
                          batch_size=256, eval_every=10**9)  # fmt: skip
        results[(name, k)] = score["test_nll"] - h

plt.figure(figsize=(5, 3.5))
for name in ["eight_gaussians", "rings"]:
    ks = sorted(k for n, k in results if n == name)
    plt.semilogx(ks, [results[(name, k)] for k in ks], "o-", base=2, label=name)
plt.xlabel("mixture components")
plt.ylabel("KL(p_data || model), nats")
plt.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Summary
#
# * Minimising the average negative log-likelihood minimises the cross-entropy, hence
#   KL(p_data || model): maximum likelihood is divergence minimisation.
# * Minibatch gradients are unbiased estimates of the full gradient, with spread ∝ 1/√B.
# * With an exact log p_data, the KL gap is test NLL − H(p_data): it tells not only which
#   model is better, but how much better any model could still be.
