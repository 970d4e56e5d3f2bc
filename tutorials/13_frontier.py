# %% [markdown]
# # 13 · The frontier: flow matching, fast solvers, consistency models, discrete diffusion
#
# A diffusion model learns a score and samples by reversing a noising process; its probability
# flow ODE is a deterministic map from noise to data, found the long way round. Flow matching
# learns such a map directly: a velocity field v(x, t) whose flow carries noise at t = 0 to
# data at t = 1, fitted by plain regression. The chapter:
#
# 1. flow matching as regression on a conditional velocity, checked where the answer is known;
# 2. couplings: independent pairs against minibatch optimal transport, measured by the path
#    energy and by W2 after a single Euler step;
# 3. rectified flow: training again on a flow's own pairs straightens it;
# 4. the ODE solvers' orders, and what a sample costs in network evaluations;
# 5. fast samplers for diffusion models: EDM's Heun and DPM-Solver++ on dx/dsigma;
# 6. consistency models, which learn the ODE's end point and sample in one step;
# 7. diffusion on discrete data, whose bounds can be checked by enumeration;
# 8. latent diffusion: a DDPM on an autoencoder's codes.
#
# The mathematics is in `scratchgen.flow_matching` and `scratchgen.ode`;
# `models.create("flow_matching", ...)` is the model, on the diffusion models' network.
#
# Run it with `python tutorials/13_frontier.py`, or open it as a notebook.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from autodiff import Tensor
from scratchgen import data, metrics, models, ode, train, viz
from scratchgen import flow_matching as fm

QUICK = os.environ.get("SCRATCHGEN_QUICK") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Regression on a conditional velocity
#
# Pick a path between a noise sample x0 and a data sample x1, say the straight line
# x_t = (1 - t) x0 + t x1. Along it the velocity is u_t = x1 - x0, known for every pair. The
# velocity we want, the one that moves the whole distribution, is the average of these over
# the pairs that pass through x at time t: u_t(x) = E[x1 - x0 | x_t = x]. We cannot compute
# it, but regression does it for us: the minimiser of
#
#     L_CFM(v) = E_{t, x0, x1} || v(x_t, t) - (x1 - x0) ||^2
#
# over all functions v is that conditional mean, and L_CFM differs from the loss against u_t(x)
# itself by a constant (Lipman et al. 2023, theorem 2). So moving v away from the marginal
# field by delta must raise L_CFM by exactly E||delta||^2 / D. From N(0, I) to N(m, s^2 I) the
# marginal field is known in closed form; check it.

# %%
m, s = np.array([2.0, -1.0]), 0.5


def marginal(x, t):
    slope = (t * s**2 - (1 - t)) / ((1 - t) ** 2 + t**2 * s**2)
    return m + slope[:, None] * (x - t[:, None] * m)


n = 20_000 if QUICK else 200_000
x0, x1, t = rng.standard_normal((n, 2)), m + s * rng.standard_normal((n, 2)), rng.uniform(size=n)


def loss(offset):
    return fm.flow_matching_loss(lambda x, times: Tensor(marginal(x.data, times) + offset),
                                 x0, x1, t, 0.0, "lipman", rng).item()  # fmt: skip


for delta in (0.0, 0.2, 0.5):
    print(f"v = marginal + {delta}: L_CFM - L_CFM(marginal) = {loss(delta) - loss(0.0):.4f} "
          f"(theory {delta**2:.4f})")  # fmt: skip
end, nfe = ode.integrate(marginal, rng.standard_normal((5000, 2)), solver="heun", steps=50)
print(f"the marginal field carries N(0, I) to mean {end.mean(0).round(3)}, sd "
      f"{end.std(0).round(3)} (target {m}, {s}) in {nfe} evaluations")  # fmt: skip

# %% [markdown]
# ## 2. Couplings: why optimal transport straightens the paths
#
# With independent pairs, two straight conditional paths often cross; the marginal field
# averages them, so the learned flow curves, and a large Euler step misses. Tong et al. (2024)
# pair each batch by the exact optimal assignment instead (`fm.minibatch_ot`, an assignment
# problem): nearby noise goes to nearby data, paths cross less, and the flow is straighter.
# The path energy E int ||v||^2 dt measures it (a straight flow between fixed ends minimises
# it), and W2 after one Euler step shows what it buys.

# %%
moons = data.load("two_moons")
steps = 60 if QUICK else 2000
test = moons.test[:1000]
flows = {}
for coupling in ("independent", "ot"):
    model = models.create("flow_matching", moons.info, coupling=coupling, path="tong",
                          sigma=0.1, hidden=[64, 64, 64])  # fmt: skip
    train.fit(model, moons, progress=False, steps=steps, batch_size=256, lr=3e-3,
              eval_every=10**9)  # fmt: skip
    flows[coupling] = model
    start = model.draw_source(1000, rng)
    one = metrics.wasserstein2(model.sample(1000, rng, steps=1, x0=start), test)
    many = metrics.wasserstein2(model.sample(1000, rng, steps=100, x0=start), test)
    energy = fm.path_energy(model.velocity, start)
    print(f"{coupling:>11}: W2 {one:.3f} after 1 Euler step, {many:.3f} after 100; "
          f"path energy {energy:.3f}")  # fmt: skip

# %% [markdown]
# ## 3. Rectified flow: train again on the flow's own pairs
#
# A trained flow couples each x0 with its end x1 = flow(x0). Those pairs no longer cross: the
# flow is a map. Liu et al. (2023) regress a new flow on them ("reflow"); its conditional paths
# are straight lines between the old flow's ends, so the new flow is straighter still, and
# one Euler step lands close to where the old flow's many steps went.

# %%
teacher = flows["independent"]
pairs = 2000 if QUICK else 10_000
student = models.create("flow_matching", moons.info, coupling="reflow", pairs=pairs,
                        path="tong", sigma=0.0, hidden=[64, 64, 64])  # fmt: skip
student.set_pairs(*teacher.couple(pairs, rng, steps=100))
train.fit(student, moons, progress=False, steps=steps, batch_size=256, lr=3e-3,
          eval_every=10**9)  # fmt: skip
start = teacher.draw_source(1000, rng)
fig, axes = plt.subplots(1, 3, figsize=(13, 4))
for ax, (name, model) in zip(axes, [("independent", teacher), ("minibatch OT", flows["ot"]),
                                    ("reflow of the independent", student)]):  # fmt: skip
    _, path = model.sample(200, rng, steps=20, x0=start[:200], return_trajectory=True)
    path = np.stack(path)  # (steps + 1, n, 2)
    ax.plot(path[:, :, 0], path[:, :, 1], lw=0.4, c="tab:blue", alpha=0.5)
    one = metrics.wasserstein2(model.sample(1000, rng, steps=1, x0=start), test)
    ax.set_title(f"{name}: W2 at 1 step {one:.2f}")
    ax.set_xlim(-3, 3.5)
    ax.set_ylim(-3, 3)
plt.show()

# %% [markdown]
# ## 4. Solvers and their cost
#
# A sample costs one network evaluation per Euler step, two per Heun step, and whatever an
# adaptive solver needs. Their orders show on the known field of section 1: halving the
# step halves Euler's error and quarters Heun's.

# %%
x0 = rng.standard_normal((50, 2))
for solver in ("euler", "heun"):
    errors = [np.abs(ode.integrate(marginal, x0, solver=solver, steps=k)[0] - (m + s * x0)).max()
              for k in (20, 40, 80)]  # fmt: skip
    print(f"{solver}: errors {np.round(errors, 5)}, ratios "
          f"{np.round(np.array(errors[:-1]) / errors[1:], 2)}")  # fmt: skip
samples, nfe = flows["ot"].sample(1000, rng, sampler="adaptive", return_nfe=True)
print(f"OT-CFM by the adaptive solver: W2 {metrics.wasserstein2(samples, test):.3f} in {nfe} "
      "evaluations")  # fmt: skip

# %% [markdown]
# ## 5. Fast samplers for diffusion: the same ODE, in sigma
#
# Any Gaussian diffusion x_t = a_t x_0 + b_t eps becomes, divided by a_t, x = x_0 + sigma eps
# with sigma = b_t / a_t, and its probability-flow ODE reads dx/dsigma = (x - D(x; sigma)) /
# sigma, D the denoiser E[x_0 | x] (Karras et al. 2022). A solver needs only D. Euler's method
# on it is DDIM; EDM's Heun adds a correction with the slope at the step's end (second order);
# DPM-Solver++(2M) reuses the previous step's D instead (second order at one evaluation a
# step). On a Gaussian, D and the exact flow are closed forms: watch the orders.

# %%
from scratchgen import diffusion  # noqa: E402
from scratchgen.diffusion.targets import GaussianData  # noqa: E402

gaussian = GaussianData(np.array([1.0, -1.0]), np.diag([0.25, 1.0]))
x_top = 20.0 * rng.standard_normal((100, 2))
for name, solver in diffusion.SIGMA_SOLVERS.items():
    errors = []
    for steps in (8, 16, 32):
        sigmas = np.geomspace(20.0, 0.05, steps)  # ends at 0.05, where the flow is still known
        x = solver(gaussian.denoiser(), (100, 2), rng, sigmas, x_T=x_top)
        errors.append(np.abs(x - gaussian.flow(x_top, 20.0, 0.05)).max())
    print(f"{name:17s} errors {np.round(errors, 5)}, halving the step divides them by "
          f"{np.round(np.array(errors[:-1]) / errors[1:], 1)}")  # fmt: skip

# %% [markdown]
# ## 6. Consistency models: learn the ODE's end point directly
#
# The flow carries every (x_sigma, sigma) of one trajectory to the same x_eps. A consistency
# model learns that map f(x, sigma) (Song et al. 2023), written as c_skip(sigma) x + c_out(sigma)
# F(x, sigma) with c_skip(eps) = 1 and c_out(eps) = 0, so f(x, eps) = x holds whatever F is.
# Distillation makes f agree with itself across one teacher ODE step, f(x_{t_{n+1}}, t_{n+1})
# against f-(x_hat_{t_n}, t_n), with f- a slowly moving average; the anchor at eps pulls the
# whole trajectory to its end. Then one evaluation is a sample. Distil the Gaussian's exact
# denoiser, then compare one-step samples with the truth.

# %%
gauss_data = data.Dataset("gaussian", gaussian.sample(4000, rng), gaussian.sample(500, rng),
                          data.DataInfo((2,), "continuous", 0))  # fmt: skip
student = models.create("consistency", gauss_data.info, objective="distillation",
                        sigma_data=1.0, hidden=[64, 64])  # fmt: skip
student.set_teacher(gaussian.denoiser())
trainer = train.Trainer(student, gauss_data, train.TrainConfig(steps=200 if QUICK else 800,
                        batch_size=256, lr=2e-3, eval_every=10**9), progress=False)  # fmt: skip
trainer.fit()
with trainer.ema.applied(student):
    for steps in (1, 2):
        one = student.sample(4000, rng, steps=steps)
        print(f"{steps} step(s): mean {one.mean(0).round(2)}, std {one.std(0).round(2)} "
              f"(truth: mean [1, -1], std [0.5, 1])")  # fmt: skip
    f_at_eps = student.consistency(x_top, np.full(len(x_top), student.epsilon))
exact_boundary = np.array_equal(f_at_eps, x_top.astype(student.dtype))  # the model's float32
print("the boundary f(x, eps) = x holds exactly:", exact_boundary)

# %% [markdown]
# ## 7. Diffusion on discrete data: corrupt tokens, not pixels
#
# Text has no Gaussian noise. Discrete diffusion corrupts each token by a Markov chain
# instead: the absorbing graph replaces it by a mask symbol, the uniform one by a random
# symbol. D3PM (Austin et al. 2021) learns the reverse chain through a denoiser p(x_0 | x_t)
# and bounds -log p(x) by a sum of KLs; SEDD (Lou et al. 2024) learns the ratios p_t(y) / p_t(x)
# (the concrete score) and MDLM (Sahoo et al. 2024) the masked cross-entropy, both in
# continuous time. On two tokens over three symbols every state can be enumerated, so the
# bound and the exact NLL of the reverse chain are both computable: the bound is above it,
# and with the true denoiser the gap shrinks as the chain gets more steps.

# %%
from scratchgen.discrete_diffusion import Graph, exact  # noqa: E402

p_data = np.random.default_rng(0).dirichlet(np.ones(9))  # a law over the 3^2 sequences
entropy = -p_data @ np.log(p_data)
graph = Graph("absorbing", 3)
true_denoiser = exact.data_denoiser(graph, p_data, 2)
for T in (4, 16, 64):
    nll = exact.chain_nll(graph, true_denoiser, T, 2)
    bound = exact.d3pm_bound(graph, true_denoiser, exact.sequences(3, 2), T)
    print(f"T = {T:2d}: E[bound] - H = {p_data @ bound - entropy:.4f} nats, "
          f"E[exact NLL] - H = {p_data @ nll - entropy:.4f}")  # fmt: skip
print("python -m benchmarks.discrete_diffusion trains D3PM, MDLM and SEDD on the grammar text")

# %% [markdown]
# ## 8. Latent diffusion: diffuse the codes, not the pixels
#
# A VAE's prior N(0, I) is rarely the distribution its encoder actually produces, the
# aggregate posterior q(z) = E_x q(z | x): samples drawn from the prior land where few codes
# of real images are, and decode to blurs. Latent diffusion (Rombach et al. 2022) keeps the
# autoencoder and learns q(z) instead, with a DDPM on the codes scaled to unit variance; a
# sample is a DDPM sample decoded. The DDPM works on L numbers instead of D pixels, which is
# why it trains fast; what it cannot do is sharpen what the decoder blurs. The paper's
# autoencoder has only a slight KL penalty; here beta = 0.1 lets the codes spread beyond
# N(0, I) (with beta = 1 on these digits the prior already fits them, and the two FIDs are
# level). `fit(out=...)` writes a run folder, which `autoencoder=` reads.

# %%
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from scratchgen.evaluation import score_samples  # noqa: E402

digits = data.load("digits")
folder = Path(tempfile.mkdtemp()) / "vae"
vae = models.create("vae", digits.info, arch="conv", latent=8, filters=16, beta=0.1,
                    eval_samples=1)  # fmt: skip
train.fit(vae, digits, out=folder, progress=False, steps=20 if QUICK else 1500, lr=3e-3,
          eval_every=10**9)  # fmt: skip
codes = vae.posterior(vae.as_input(digits.train)).base.loc.data
print("the codes' mean per dimension:", codes.mean(0).round(2))
print("their standard deviations:    ", codes.std(0).round(2), "(the prior says 1)")
ldm = models.create("latent_diffusion", digits.info, autoencoder=str(folder), hidden=[128, 128])
train.fit(ldm, digits, progress=False, steps=20 if QUICK else 3000, lr=1e-3, batch_size=256,
          eval_every=10**9)  # fmt: skip
print(f"scale s = {float(ldm.scale):.3f}: the codes divided by it have unit variance")
prior_samples = vae.decode_mean(rng.standard_normal((300, 8)))
latent_samples = ldm.sample(300, rng, "ddim", steps=50)
for name, samples in (("VAE prior", prior_samples), ("latent diffusion", latent_samples)):
    fid = score_samples(samples, digits, ["fid"], rng, progress=False)
    print(f"{name}: FID {next(v for k, v in fid.items() if k.startswith('fid')):.1f}")
fig, axes = plt.subplots(1, 2, figsize=(8, 4))
for ax, (name, samples) in zip(axes, (("z ~ N(0, I), decoded", prior_samples),
                                      ("latent diffusion, decoded", latent_samples))):  # fmt: skip
    ax.imshow(viz.tile(samples[:36], levels=digits.info.levels, columns=6))
    ax.set(title=name, xticks=[], yticks=[])
plt.show()
