# %% [markdown]
# # 07 · Normalising flows: densities by change of variables
#
# A flow is an invertible map f from data x to a latent z with a simple density p_Z. If f is
# invertible and differentiable, the density of x is exact:
#
#     log p(x) = log p_Z(f(x)) + log |det df/dx|,
#
# and a sample is x = f^{-1}(z) with z ~ p_Z. Everything in this chapter is about making the
# two costs, the inverse and the log-determinant, cheap:
#
# 1. the change of variables, checked on a grid;
# 2. why triangular Jacobians: couplings (NICE, RealNVP) and their log-det by a sum;
# 3. coupling against autoregressive: MAF is fast to score, IAF fast to sample, measured;
# 4. multi-scale flows (RealNVP, Glow), ActNorm and the 1x1 convolution;
# 5. dequantisation, and why bits/dim on discrete data needs it;
# 6. the rational-quadratic spline;
# 7. a continuous flow and its trace, exact and by Hutchinson's estimator;
# 8. flows in variational inference: a planar flow fitted by reverse KL, and a VAE's posterior.
#
# Direction, once and for all: in `scratchgen.bijections`, `forward` runs data to latent (the
# normalising direction, the one log p(x) needs) and `inverse` runs latent to data (sampling).
#
# Run it with `python tutorials/07_flows.py`, or open it as a notebook.

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np

import autodiff as ad
from scratchgen import bijections as B
from scratchgen import data, models, train, viz
from scratchgen.testing import numerical_log_abs_det

QUICK = os.environ.get("SCRATCHGEN_QUICK") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The change of variables
#
# In one dimension, if z = f(x) is increasing, probability is conserved on every interval:
# p(x) dx = p_Z(z) dz, so p(x) = p_Z(f(x)) f'(x). In D dimensions the stretch of a small
# volume is |det df/dx|, which gives the formula above. A check on a grid: an affine coupling
# with random weights, its density summed over the plane.

# %%
conditioner = B.MLPConditioner(2, 4, (16,), rng=rng, dtype=np.float64)
for p in conditioner.parameters():
    p.data[...] = 0.5 * rng.standard_normal(p.data.shape)
coupling = B.AffineCoupling(B.half_mask(2), conditioner)
edges = np.linspace(-8, 8, 321)
centres = (edges[:-1] + edges[1:]) / 2
grid = np.stack(np.meshgrid(centres, centres, indexing="ij"), -1).reshape(-1, 2)
with ad.no_grad():
    z, logdet = coupling(ad.Tensor(grid))
log_p = -0.5 * (z.data**2).sum(1) - np.log(2 * np.pi) + logdet.data
print(f"sum of p(x) over the grid: {np.exp(log_p).sum() * (edges[1] - edges[0]) ** 2:.4f}")

# %% [markdown]
# ## 2. Why triangular Jacobians
#
# log |det J| of a general D x D Jacobian costs O(D^3). A coupling keeps half the dimensions,
# x_1, and transforms the rest elementwise with parameters computed from x_1:
#
#     z_1 = x_1,      z_2 = (x_2 - mu(x_1)) exp(-alpha(x_1)).
#
# dz_1/dx_2 = 0, so the Jacobian is block triangular and its determinant is the product of its
# diagonal: log |det J| = -sum alpha(x_1), whatever the networks mu and alpha are. The inverse
# is as cheap: x_2 = z_2 exp(alpha(z_1)) + mu(z_1). Here is a coupling's Jacobian by finite
# differences, and its log-det against the one the layer returns.

# %%
layer = B.AffineCoupling(B.half_mask(4), B.MLPConditioner(4, 8, (16,), rng=rng, dtype=np.float64))
for p in layer.parameters():
    p.data[...] = 0.5 * rng.standard_normal(p.data.shape)
x = rng.standard_normal((1, 4))


def mapped(points):
    return layer(ad.Tensor(points))[0].data


eps = 1e-6
jacobian = np.stack([(mapped(x + eps * e) - mapped(x - eps * e))[0] / (2 * eps)
                     for e in np.eye(4)], axis=1)  # fmt: skip
print(np.round(jacobian, 3))
print(f"log |det J|: numerical {numerical_log_abs_det(mapped, x)[0]:.6f}, "
      f"the layer's {layer(ad.Tensor(x))[1].data[0]:.6f}")  # fmt: skip

# %% [markdown]
# A log-det with the wrong sign in both directions passes every round-trip test (inverse
# of forward is still the identity); only a comparison with the numerical Jacobian, as above,
# catches it. `scratchgen.testing.assert_bijection` does both.
#
# ## 3. Coupling against autoregressive; MAF against IAF
#
# An autoregressive flow transforms every dimension given all those before it,
# z_i = (x_i - mu_i(x_<i)) exp(-alpha_i(x_<i)), with a MADE network computing all mu_i, alpha_i
# in one pass. Its Jacobian is triangular too. Which direction is cheap depends on what the
# network reads:
#
# - **MAF** (Papamakarios et al. 2017) computes z from x: x is known, one pass. Scoring
#   (training by maximum likelihood) is fast; sampling must produce x_1, then x_2 from it, ...:
#   D passes.
# - **IAF** (Kingma et al. 2016) is the same layer inverted: sampling reads only z, one pass;
#   scoring a given x takes D passes. Its own samples' densities are cheap, which is why it suits
#   a VAE's posterior.
#
# The same weights make a MAF and an IAF that are inverses of each other. Timed on the 64
# dimensions of the digits:

# %%
digits = data.load("digits")
maf = models.create("maf", digits.info, layers=2, hidden=[128])
iaf = models.create("iaf", digits.info, layers=2, hidden=[128])


def seconds(fn, repeats: int = 3) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


batch = digits.test[:100]
with ad.no_grad():
    for name, model in (("MAF", maf), ("IAF", iaf)):
        score = seconds(lambda m=model: m.log_prob(batch))
        draw = seconds(lambda m=model: m.sample(100, rng))
        print(f"{name}: log_prob of 100 digits {score * 1e3:7.1f} ms, "
              f"100 samples {draw * 1e3:7.1f} ms")  # fmt: skip

# %% [markdown]
# ## 4. Multi-scale flows, ActNorm and the invertible 1x1 convolution
#
# RealNVP's multi-scale architecture squeezes each 2 x 2 block of pixels into four channels,
# applies couplings, and factors out half of the channels to the latent directly: later levels
# work on a quarter of the pixels. Glow's step of flow is ActNorm (a per-channel affine map
# whose parameters are set from the first batch so that its output has zero mean and unit
# variance), an invertible 1x1 convolution W (log |det| = H W log |det W|, O(C) with W in LU
# form), and an affine coupling on half the channels. On MNIST with two levels: 28 -> 14 -> 7.

# %%
h = ad.Tensor(np.zeros((1, 1, 28, 28)))  # an MNIST image through Glow's two levels
for level in (1, 2):
    h = B.squeeze(h)
    last = level == 2
    print(f"level {level}: squeezed to {h.shape[1:]}, steps of flow, then "
          f"{'all of it' if last else 'half the channels'} to the latent")  # fmt: skip
    h = h[:, h.shape[1] // 2 :]
glow = models.create("glow", digits.info, depth=2, filters=16)
glow.initialize(digits.train, rng)  # ActNorm's data-dependent start
print(f"Glow on the digits: {glow.num_parameters()} parameters, {len(glow.flow)} parts "
      "(the logit, then the levels)")  # fmt: skip

# %% [markdown]
# ## 5. Dequantisation: why bits/dim on discrete data needs it
#
# A density on the 17 grey levels of the digits could put a spike on each integer and reach
# any likelihood. Modelling y = (x + u) / L with u ~ U[0, 1)^D instead gives a lower bound
# on the likelihood of a discrete model (Theis et al. 2016):
#
#     log P(x) >= E_u[ log p(y) ] - D log L.
#
# Each term per image, in nats, from the model (``log_prob_terms``); their sum over D log 2
# is bits per dimension. (A density above 1 makes a log-likelihood positive and a loss
# negative: on continuous data that is no error.)

# %%
realnvp = models.create("realnvp", digits.info, couplings=2, filters=16, blocks=1)
train.fit(realnvp, digits, progress=False, steps=20 if QUICK else 1500, batch_size=64, lr=1e-3,
          eval_every=10**9)  # fmt: skip
with ad.no_grad():
    terms = {k: float(v.data.mean()) for k, v in realnvp.log_prob_terms(digits.test).items()}
for name, value in terms.items():
    print(f"{name:15s} {value:9.2f} nats")
print(f"bits/dim: {-sum(terms.values()) / (64 * np.log(2)):.3f} (PixelCNN on these digits: 1.868)")

# %% [markdown]
# ## 6. The rational-quadratic spline
#
# Neural spline flows (Durkan et al. 2019) replace the affine map by a monotone spline of K
# rational-quadratic pieces on [-B, B], the identity outside (linear tails): more flexible per
# layer, still invertible in closed form (a quadratic per bin).

# %%
K = 6
widths, heights, derivatives = rng.standard_normal((3, 1, K))
xs = np.linspace(-4, 4, 400)
ys, log_d = (t.data for t in B.rational_quadratic_spline(
    xs, np.repeat(widths, 400, 0), np.repeat(heights, 400, 0),
    np.repeat(derivatives[:, : K - 1], 400, 0)))  # fmt: skip
fig, axes = plt.subplots(1, 2, figsize=(8, 3))
axes[0].plot(xs, ys)
axes[0].set_title("g(x), identity outside [-3, 3]")
axes[1].plot(xs, np.exp(log_d))
axes[1].set_title("g'(x) > 0 everywhere")
plt.show()

# %% [markdown]
# ## 7. A continuous flow and its trace
#
# Let x(t) follow dx/dt = f(x, t). Then d log p(x(t))/dt = -Tr(df/dx) (Chen et al. 2018), so
#
#     log p(x) = log p_Z(x(T)) + int_0^T Tr(df/dx) dt.
#
# The trace costs D backward passes; Hutchinson's estimator eps^T (df/dx) eps with
# E[eps eps^T] = I costs one and is unbiased (FFJORD). Both, on a CNF trained briefly on the
# two moons, and the fixed-step RK4 against scipy's adaptive solver:

# %%
moons = data.load("two_moons")
cnf = models.create("cnf", moons.info, hidden=[32, 32], solver_steps=6, dtype="float64")
train.fit(cnf, moons, progress=False, steps=20 if QUICK else 600, batch_size=256, lr=3e-3,
          eval_every=10**9)  # fmt: skip
x = moons.test[:200]
with ad.no_grad():
    exact = cnf.log_prob(x).data
    cnf.flow.trace = "hutchinson"
    estimates = np.stack([cnf.log_prob(x).data for _ in range(20)])
    cnf.flow.trace = "exact"
print(
    f"mean log p: exact trace {exact.mean():.4f}, Hutchinson {estimates.mean():.4f} "
    f"(one draw's spread {estimates.std(axis=0).mean():.4f})"
)
print(f"adaptive solver: {cnf.log_prob_adaptive(x).mean():.4f}")
frames = cnf.flow.trajectory(rng.standard_normal((1000, 2)), inverse=True)
fig, axes = plt.subplots(1, len(frames[::2]), figsize=(2 * len(frames[::2]), 2))
for ax, frame in zip(axes, frames[::2]):
    viz.scatter(frame, ax=ax)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 8. Flows in variational inference
#
# To fit a density known up to its constant, p(z) = exp(-U(z)) / Z, push Gaussian draws
# through a flow and minimise F = E[log q_K(z_K) + U(z_K)] = KL(q_K || p) - log Z (Rezende &
# Mohamed 2015). Only samples and their densities are needed, never the inverse: planar flows,
# which have none, serve. The same push-forward makes a VAE's posterior richer:
# `scratchgen train vae --data digits_binary --set posterior_flow=iaf flow_length=4`.

# %%
from scratchgen.models.flows import reverse_kl  # noqa: E402

U = reverse_kl.POTENTIALS["U2"]
flow = reverse_kl.planar_flow(8, rng)
reverse_kl.fit_reverse_kl(U, flow, 50 if QUICK else 2000, rng)
with ad.no_grad():
    samples = flow(ad.Tensor(rng.standard_normal((5000, 2))))[0].data
    kl = reverse_kl.free_energy(flow, U, rng.standard_normal((5000, 2))).item()
print(f"KL(q_K || p) ~ {kl + reverse_kl.log_normaliser(U):.3f} nats")
viz.scatter(samples, title="planar flow, K = 8, fitted to U2")
plt.show()

vae = models.create("vae", data.load("digits_binary").info, latent=8, hidden=[128],
                    posterior_flow="iaf", flow_length=2, eval_samples=100)  # fmt: skip
result = train.fit(vae, data.load("digits_binary"), progress=False, steps=20 if QUICK else 3000,
                   batch_size=64, lr=3e-3, eval_every=10**9)  # fmt: skip
print(f"IAF-VAE: ELBO {result['test_elbo']:.2f}, log p(x) ~ {-result['test_nll']:.2f} nats")
