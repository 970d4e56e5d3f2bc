# %% [markdown]
# # 12 · Controllable generation
#
# A model of p(x) draws anything; a user wants a particular thing: a digit 3, a caption's
# scene, the rest of a half-seen image. This chapter is about the ways to get p(x | c) from
# what chapter 11 built:
#
# 1. conditional models, and Bayes' rule for scores;
# 2. classifier guidance: an unconditional model steered by a classifier's gradient;
# 3. classifier-free guidance: one network, its condition sometimes dropped, as an implicit
#    classifier;
# 4. both on trained networks: a class-conditional DDPM and a noisy classifier;
# 5. inverse problems as posterior sampling, and what replacement gets wrong.
#
# As in chapter 11, the mathematics is checked first on data whose noised scores are closed
# forms: a mixture of Gaussians whose components are the classes, so that p(x | c), p(x) and
# p(c | x_t) are all exact.
#
# Run it with `python tutorials/12_controllable_generation.py`, or open it as a notebook.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from scratchgen import data, diffusion, inverse, models, train
from scratchgen.data import toy2d
from scratchgen.data.dataset import Dataset
from scratchgen.diffusion.targets import GaussianData, GaussianMixtureData
from scratchgen.models.diffusion import NoisyClassifier

QUICK = os.environ.get("SCRATCHGEN_QUICK") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Bayes' rule for scores
#
# Take the log of p(x | c) = p(x) p(c | x) / p(c) and differentiate in x: p(c) drops out, so
#
#     grad log p_t(x | c) = grad log p_t(x) + grad log p_t(c | x)
#
# at every noise level t. In noise-prediction terms (eps = -sqrt(1 - alpha_bar_t) times the
# score, Tweedie's formula), the conditional noise is the unconditional one minus
# sqrt(1 - alpha_bar_t) times the classifier's gradient. Check it on three classes: each
# class is one Gaussian component (sd 0.7, close enough to overlap), so both sides are closed
# forms.

# %%
centres = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.5]])
mixture = GaussianMixtureData(centres, 0.7)
schedule = diffusion.NoiseSchedule("linear", 200)
x_t = rng.standard_normal((5, 2)) * 2
t = np.full(5, 60)
conditional = mixture.component(2).schedule_eps(schedule)(x_t, t)
grad = mixture.schedule_classifier_grad(schedule, 2)(x_t, t)
via_bayes = mixture.schedule_eps(schedule)(x_t, t) - np.sqrt(1 - schedule.alpha_bar[60]) * grad
print("largest difference between the two sides:", np.abs(conditional - via_bayes).max())

# %% [markdown]
# ## 2. Classifier guidance
#
# Dhariwal & Nichol (2021) train a classifier p_phi(c | x_t, t) on noised inputs and sample
# with
#
#     eps^(x_t, c) = eps(x_t) - s sqrt(1 - alpha_bar_t) grad log p_phi(c | x_t, t).
#
# At s = 1 this is Bayes' rule: exact classifier and exact eps give p(x | c). At s > 1 it
# samples (in the small-noise limit) from p(x) p(c | x)^s, which puts more weight where the
# classifier is sure. `scratchgen.diffusion.classifier_guided` wraps any eps_fn. Here the
# classifier is the exact q(c | x_t) of the mixture.

# %%
eps_fn = mixture.schedule_eps(schedule)
exact_grad = mixture.schedule_classifier_grad(schedule, 2)
n = 500 if QUICK else 2000
fig, axes = plt.subplots(1, 3, figsize=(12, 4))
for ax, s in zip(axes, (0.0, 1.0, 4.0)):
    guided = diffusion.classifier_guided(eps_fn, schedule, exact_grad, s)
    x = diffusion.ddpm_ancestral(schedule, guided, (n, 2), np.random.default_rng(1), "beta")
    print(f"s = {s}: mean {np.round(x.mean(axis=0), 2)}, sd {np.round(x.std(axis=0), 2)}")
    ax.scatter(*x.T, s=2)
    ax.set(title=f"classifier guidance, s = {s}", xlim=(-4, 4), ylim=(-3, 5))
plt.show()

# %% [markdown]
# At s = 0 the samples are the whole mixture. At s = 1 they are class 2's component, N((0,
# 1.5), 0.7^2 I), to sampling error. At s = 4 they move away from the other two classes (the
# mean rises past 1.5) and narrow to where p(c | x) is near 1. That is the trade a guidance
# scale makes: fidelity to the class against diversity. (Where the classes do not overlap,
# p(c | x) is near 1 over the whole component, and a larger s changes little.)
#
# The same classifier guides a continuous-time score model, whose x_t = m x_0 + s_t z need not
# have m^2 + s_t^2 = 1 (the VE SDE has m = 1). Rescaled, u = x_t / sqrt(m^2 + s_t^2) has the
# form of a DDPM step with alpha_bar = m^2 / (m^2 + s_t^2), and p(c | x_t) = p(c | u). So the
# classifier reads u at the step whose alpha_bar is nearest, and its gradient is divided by
# the scale (`diffusion.sde_classifier_guided`). Here the exact classifier of the schedule above
# guides the exact VE score at s = 1:

# %%
ve = diffusion.VESDE(sigma_max=10.0)
guided_score = diffusion.sde_classifier_guided(mixture.sde_score(ve), ve, schedule, exact_grad, 1.0)
x = diffusion.euler_maruyama(ve, guided_score, (n, 2), np.random.default_rng(1), steps=500)
print(f"VE, s = 1: mean {np.round(x.mean(axis=0), 2)}, sd {np.round(x.std(axis=0), 2)}")

# %% [markdown]
# The mean and spread are class 2's again, up to sampling error and the rounding of each time
# to the classifier's nearest step.
#
# ## 3. Classifier-free guidance
#
# Ho & Salimans (2022) drop the classifier. One network learns eps(x_t, c) and, with the
# condition replaced by a null token at a rate p_uncond in training, eps(x_t). At sampling
#
#     eps~(x_t, c) = (1 + w) eps(x_t, c) - w eps(x_t)
#                  = eps(x_t, c) - w sqrt(1 - alpha_bar_t) grad log [p_t(x | c) / p_t(x)],
#
# and p_t(x | c) / p_t(x) = p_t(c | x) / p(c) is an implicit classifier. So classifier-free
# guidance at w is classifier guidance at s = 1 + w, with the model's own classifier. (Code in
# the wild often writes eps(x_t) + g (eps(x_t, c) - eps(x_t)): the same, with g = 1 + w.)
# With exact densities the two agree to rounding:

# %%
cfg = diffusion.classifier_free(mixture.component(2).schedule_eps(schedule), eps_fn, 2.0)
cg = diffusion.classifier_guided(eps_fn, schedule, exact_grad, 3.0)
print("CFG at w = 2 against classifier guidance at s = 3:", np.abs(cfg(x_t, t) - cg(x_t, t)).max())

# %% [markdown]
# ## 4. On trained networks
#
# The eight Gaussians, labelled by their mode. A class-conditional DDPM (`num_classes=8`,
# `p_uncond=0.1`: a learned null embedding) samples each label's mode, and its null class is
# an unconditional model. A `NoisyClassifier` on the same schedule is the classifier of
# section 2, learned; its accuracy falls with the noise level toward chance, 1/8, as the
# Bayes-optimal accuracy must.

# %%
toy = data.load("eight_gaussians")
modes = np.asarray(toy2d.MODES["eight_gaussians"][0])


def mode_of(x):
    return np.argmin(((x[:, None] - modes[None]) ** 2).sum(-1), axis=1)


labelled = Dataset("eight_gaussians_labelled", toy.train, toy.test, toy.info,
                   mode_of(toy.train), mode_of(toy.test))  # fmt: skip
steps = 60 if QUICK else 1500
fit = {"steps": steps, "batch_size": 256, "lr": 3e-3, "progress": False}
ddpm = models.create("ddpm", toy.info, timesteps=100, hidden=[64, 64, 64], num_classes=8)
train.fit(ddpm, labelled, **fit)
classifier = NoisyClassifier(toy.info, num_classes=8, timesteps=100, hidden=[64, 64])
train.fit(classifier, labelled, **fit)
accuracy = classifier.accuracy_by_step(toy.test[:2000], mode_of(toy.test[:2000]),
                                       [0, 25, 50, 75, 99], rng)  # fmt: skip
print("noisy classifier's accuracy by step:", {k: round(v, 3) for k, v in accuracy.items()})

y = np.arange(800) % 8
rows = {"CFG, w = 0": {"guidance": 0.0}, "CFG, w = 3": {"guidance": 3.0},
        "null class + classifier, s = 2": {"classifier": classifier, "classifier_scale": 2.0,
                                           "unconditional": True}}  # fmt: skip
fig, axes = plt.subplots(1, 4, figsize=(16, 4))
unguided = ddpm.sample(800, np.random.default_rng(2))
axes[0].scatter(*unguided.T, s=2, c="grey")
axes[0].set_title("the null class: unconditional")
for ax, (name, options) in zip(axes[1:], rows.items()):
    x = ddpm.sample(800, np.random.default_rng(2), y=y, **options)
    print(f"{name}: {np.mean(mode_of(x) == y):.1%} of samples in the mode asked for")
    ax.scatter(*x.T, s=2, c=y, cmap="tab10")
    ax.set_title(name)
plt.show()

# %% [markdown]
# The last panel samples the network's null class, an unconditional model, and lets the
# classifier alone steer it toward y (`unconditional=True`); an unconditional DDPM
# (`num_classes=0`) takes `classifier=` the same way, which is how Dhariwal & Nichol used it.
# `scratchgen sample RUN --label 3 --guidance 2` does the classifier-free version from the
# command line.
#
# ## 5. Inverse problems: posterior sampling
#
# Inpainting, colourisation and super-resolution observe y = A x and want p(x | y). A
# diffusion model's prior can be used without retraining. Song et al. (2021) replace the
# observed coordinates at every step by a draw from their forward marginal. This is exact
# only when the observed and free parts are independent: the free part never sees y except
# through the noised chain. On a Gaussian with correlation 0.95, observing x1 = 2, the
# conditional of x2 is N(1.90, 0.31^2). Replacement lands well off; RePaint (Lugmayr et al.
# 2022) goes back up the chain and down again, ten times every ten steps, and gets close, at
# about ten times the evaluations.

# %%
rho, n = 0.95, 500 if QUICK else 4000
gaussian = GaussianData([0.0, 0.0], [[1.0, rho], [rho, 1.0]])
chain = diffusion.NoiseSchedule()
operator, y_obs = inverse.Inpaint([True, False]), np.tile([[2.0, 0.0]], (n, 1))
eps_gaussian = gaussian.schedule_eps(chain)
replaced = inverse.impute(chain, eps_gaussian, (n, 2), rng, operator, y_obs)[:, 1]
resampling = 2 if QUICK else 10
repainted = inverse.repaint(chain, eps_gaussian, (n, 2), rng, operator, y_obs,
                            resampling=resampling)[:, 1]  # fmt: skip
print(f"exact x2 | x1 = 2: mean {rho * 2:.3f}, sd {np.sqrt(1 - rho**2):.3f}")
print(f"replacement:       mean {replaced.mean():.3f}, sd {replaced.std():.3f}")
print(f"RePaint ({resampling} resamplings): mean {repainted.mean():.3f}, sd {repainted.std():.3f}")

# %% [markdown]
# ## Text conditioning by cross-attention
# A caption is a sequence, not a label: "a small red circle at the top left" says where as
# well as what. A text encoder (here a small Transformer, `nn.TextEncoder`, trained jointly
# with the denoiser as in GLIDE) turns its words into vectors c_1..c_L, and the UNet reads
# them by cross-attention at its low-resolution levels (Rombach et al. 2022, section 3.3):
#
#     h <- h + W_o softmax(Q(h) K(c)^T / sqrt(d)) V(c),
#
# each pixel's feature asking the words what to draw there. The empty caption (the begin
# token alone) is the null condition, so classifier-free guidance reads the same as for
# labels: eps = (1 + w) eps(x_t, caption) - w eps(x_t, "").
#
# The shapes world is the exact ground truth: its captions are a small grammar
# (`scratchgen.data.captions`), every caption parses back to phrases, and the attribute
# network reads a generated scene back into objects, so **caption accuracy** (does the
# sample show what the caption says?) is measured, attribute by attribute.

# %%
from scratchgen import metrics
from scratchgen.data import captions, shapes

scene = shapes.random_scene(np.random.default_rng(4))
said = shapes.caption(scene)
print(said)
print(captions.parse(said))
print(captions.partial(said, np.random.default_rng(0), 0.5), "(a partial caption)")
print(captions.tokenize([said, ""])[:, :8], "(word tokens; the second row is the null)")
table = shapes.scene_attributes([scene])  # what the image shows: the reader's target
print("caption accuracy of the scene's own attributes:", metrics.caption_accuracy([said], table))

# %% [markdown]
# `scratchgen train ddpm --data shapes --set condition=caption` trains such a model, and
# `scratchgen sample RUN --caption "a red circle at the centre" --guidance 3 --out x.png`
# draws from it; `benchmarks/text_to_image.py` measures caption accuracy against w, and on a
# colour-shape pair (a red triangle) held out of training altogether: compositional
# generalisation, measured exactly.
