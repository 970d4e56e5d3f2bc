# %% [markdown]
# # 06 · Evaluation: what a likelihood says, what samples say, and how each misleads
#
# A generative model is judged two ways. Its likelihood on held-out data is a number with a
# meaning (the cross-entropy, in nats or bits) when it can be computed; GANs and diffusion
# samplers do not give one, so their samples are compared with data instead, through a
# feature network. This tutorial measures both kinds, and the ways each goes wrong:
#
# 1. the test NLL as cross-entropy, H(p) + KL, and bits per dimension;
# 2. dequantisation: a density on [0, 1]-scaled pixels bounds the discrete likelihood;
# 3. a VAE's log p(x) by importance sampling and by annealed importance sampling (AIS);
# 4. Parzen windows, ranking models in the wrong order where the exact answer is known;
# 5. FID and KID with the project's own feature network, and FID's bias with few samples;
# 6. precision against recall on a truncated sampler;
# 7. memorisation, checked by nearest training neighbours; and modes counted on a toy.
#
# Run it with `python tutorials/06_evaluation.py`, or open it as a notebook.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import autodiff as ad
from scratchgen import data, metrics, models, train, viz
from scratchgen.data import toy2d
from scratchgen.metrics.features import Recipe

QUICK = os.environ.get("SCRATCHGEN_QUICK") == "1"
rng = np.random.default_rng(0)
# the quick mode (the tests) trains short-lived feature networks; a reader's run trains the
# real ones once (about 4 s each) and keeps them in $SCRATCHGEN_DATA/features
RECIPE = Recipe(steps=60) if QUICK else None

# %% [markdown]
# ## 1. The test NLL is a cross-entropy
#
# For data from p and a model q, E_p[-log q(x)] = H(p) + KL(p || q): the NLL is the data's
# own entropy (which no model can beat) plus the model's KL divergence from the data. On a
# toy with an exact density both terms can be read off. Divided by D log 2 the NLL is in
# bits per dimension, the unit of the image-model literature:
#
#     bpd = NLL / (D log 2).

# %%
toy = data.load("eight_gaussians")
mixture = models.create("gaussian_mixture", toy.info, components=8)
result = train.fit(mixture, toy, progress=False, steps=100 if QUICK else 1500, lr=0.03,
                   eval_every=10**9)  # fmt: skip
entropy, se = toy2d.entropy(toy.log_density, toy2d.eight_gaussians)
print(f"test NLL {result['test_nll']:.3f} nats = H(p) {entropy:.3f} (+- {se:.3f}) "
      f"+ KL {result['test_nll'] - entropy:.3f}; "
      f"{metrics.bits_per_dim(result['test_nll'], 2):.3f} bits/dim")  # fmt: skip

# %% [markdown]
# ## 2. Dequantisation
#
# Pixels are integers; a continuous density on them can put unbounded density on each
# integer and reach any likelihood. Adding uniform noise u ~ U[0, 1)^D and fitting the
# density to x + u closes that door: by Jensen's inequality,
#
#     log P(x) = log ∫ p(x + u) du ≥ E_u[log p(x + u)]      (Theis et al. 2016, section 3.1),
#
# so the continuous NLL on dequantised data bounds the discrete NLL from above. On data
# scaled to [0, 1] the density changes by the Jacobian: NLL_discrete ≤ NLL_[0,1] + D log 256
# (``metrics.dequantized_nll``). Below, a Gaussian density on one 8-bit "pixel": the exact
# discrete probability of each level (the Gaussian's mass over [k, k + 1)) against the bound.

# %%
from scipy import stats  # noqa: E402

levels = np.clip(np.round(rng.normal(128, 20, 5000)), 0, 255)
gaussian = stats.norm(levels.mean() + 0.5, levels.std())
exact = -np.mean(np.log(gaussian.cdf(levels + 1) - gaussian.cdf(levels)))
dequantised = levels + rng.random(levels.shape)
bound_pixels = -np.mean(gaussian.logpdf(dequantised))
scaled = stats.norm(gaussian.mean() / 256, gaussian.std() / 256)  # the same density on [0, 1)
bound_unit = metrics.dequantized_nll(-np.mean(scaled.logpdf(dequantised / 256)), 1)
print(f"discrete NLL {exact:.4f} <= dequantised bound {bound_pixels:.4f} nats "
      f"(from [0, 1]: {bound_unit:.4f})")  # fmt: skip

# %% [markdown]
# ## 3. A VAE's likelihood: the ELBO, importance sampling, AIS
#
# The ELBO is a lower bound on log p(x); so is the importance-weighted bound with K samples
# from q(z | x), which tightens as K grows (Burda et al. 2016). AIS (Neal 2001; for decoders,
# Wu et al. 2017) moves chains from the prior p(z) to the posterior through intermediate
# densities p(z) p(x | z)^β, β from 0 to 1, and its weights estimate p(x) without needing q
# to be good: its estimate, too, is a stochastic lower bound that tightens with the number of
# temperatures. Where the two agree, both can be trusted.

# %%
binary = data.load("digits_binary")
vae = models.create("vae", binary.info, latent=8, hidden=[128])
train.fit(vae, binary, progress=False, steps=100 if QUICK else 3000, lr=3e-3,
          eval_every=10**9)  # fmt: skip
vae.eval()
x = binary.test[: 5 if QUICK else 50]
with ad.no_grad():
    print(f"-ELBO              {-np.mean(vae.elbo(x).data):8.3f} nats (each line bounds the NLL)")
    for k in (1, 10, 100) if QUICK else (1, 10, 100, 1000):
        vae.hparams["eval_samples"] = k
        print(f"importance, K={k:<5d}{-np.mean(vae.log_prob(x).data):8.3f}")
for steps in (10, 50) if QUICK else (10, 100, 1000):
    ais = metrics.ais_log_likelihood(vae, x, np.random.default_rng(1), steps=steps)
    print(f"AIS, {steps:4d} temperatures {-np.mean(ais):8.3f}")

# %% [markdown]
# ## 4. Parzen windows rank models wrongly
#
# Before FID, samples were scored by fitting a Gaussian kernel density to them and reading
# the test log-likelihood under it, the bandwidth chosen on a validation split. In more than
# a few dimensions this estimate is far from the model's true likelihood and, worse, orders
# models wrongly (Theis et al. 2016, section 3.2). Here the data are N(0, I_20) and the
# "models" N(0, s² I_20), whose exact log-likelihoods are known: s = 1 is the truth. The
# Parzen estimate prefers the sharpest model, which is in fact the worst.

# %%
d = 20
test, validation = rng.standard_normal((500, d)), rng.standard_normal((300, d))
print("   s   Parzen estimate   exact log-likelihood")
for s in (0.6, 0.8, 1.0, 1.2):
    samples = s * rng.standard_normal((500 if QUICK else 2000, d))
    h = metrics.select_parzen_bandwidth(samples, validation)
    parzen = metrics.parzen_log_likelihood(samples, test, h).mean()
    log_q = -0.5 * np.sum((test / s) ** 2, 1) - d * np.log(s) - d / 2 * np.log(2 * np.pi)
    exact_ll = log_q.mean()
    print(f"{s:4.1f}   {parzen:15.2f}   {exact_ll:20.2f}")

# %% [markdown]
# ## 5. FID and KID, with our own feature network
#
# FID fits a Gaussian to the features of real and of generated images and reports the
# Fréchet distance between the two Gaussians, ||μ1 − μ2||² + Tr(S1 + S2 − 2 (S1 S2)^½)
# (Heusel et al. 2017). The features here come from a small classifier trained on the data by
# the project's trainer (``metrics.feature_network``), not from Inception, so the score is
# named after it: "FID with the scratchgen_digits network", never bare FID.
#
# FID is biased: even two samples of the same distribution score above zero, and the
# smaller the samples the larger the score. KID, an unbiased MMD² with a cubic kernel
# (Bińkowski et al. 2018), has no such bias: its mean over random subsets of half the images
# scatters around zero, by its standard deviation. Below, the training digits against the
# test digits (one distribution), at several sample sizes.

# %%
digits = data.load("digits")
network = metrics.feature_network("digits", RECIPE, progress=False)
print(f"{network.name}: test accuracy {network.test_accuracy:.1%}")
real_features = network.features(digits.test)
print("    n   FID      KID x 1e3 (std)")
for n in (50, 100, 200, 359):  # below 64 (the feature dimension) FID warns, rightly
    pick = rng.choice(len(digits.train), n, replace=False)
    fake_features = network.features(digits.train[pick])
    fid = metrics.fid(real_features[:n], fake_features)
    mean, std = metrics.kid(real_features[:n], fake_features, subset_size=n // 2, rng=rng)
    print(f"{n:5d}   {fid:6.2f}   {1e3 * mean:7.2f} ({1e3 * std:.2f})")

# %% [markdown]
# ## 6. Precision and recall: fidelity against diversity
#
# FID mixes two failures into one number: samples that look wrong, and data the model never
# produces. Precision (the share of samples inside the real data's k-NN balls) and recall
# (the share of real images inside the samples' balls) separate them (Kynkäänniemi et al.
# 2019). Sampling the VAE's prior at a reduced temperature, z ~ N(0, t² I), keeps to the
# centre of the latent space: recall must fall as t shrinks, since whole regions of the data
# are never decoded. Whether precision rises depends on whether the images near the centre
# are the realistic ones. On these digits (one full run) recall fell from 0.94 at t = 1 to
# 0.33 at t = 0.25 while precision stayed between 0.84 and 0.86; at t = 1.5 precision fell
# to 0.80 and recall held.

# %%
scorer = metrics.feature_network("digits_binary", RECIPE, progress=False)
real_binary = scorer.features(binary.test)
print("   t   precision   recall")
for t in (0.25, 0.5, 1.0, 1.5):
    with ad.no_grad():
        z = ad.Tensor(t * rng.standard_normal((len(binary.test), 8)))
        images = vae.likelihood(z).sample(rng=rng).reshape((-1, *binary.info.shape))
    pr = metrics.precision_recall(real_binary, scorer.features(images))
    print(f"{t:4.2f}   {pr['precision']:9.3f}   {pr['recall']:6.3f}")

# %% [markdown]
# ## 7. Memorisation, and modes
#
# A model that stored its training set and replayed it would score perfectly on every sample
# metric above. Nearest neighbours catch it: a copied sample sits at distance 0 from a
# training image, while real test images, and honest samples, do not.

# %%
copies = binary.train[rng.choice(len(binary.train), 8, replace=False)]
honest = vae.sample(8, rng)
for label, samples in (
    ("copies", copies),
    ("VAE samples", honest),
    ("test images", binary.test[:8]),
):
    distances, _ = metrics.nearest_neighbours(samples, binary.train)
    print(f"{label:12s}: mean distance to the nearest training image {distances.mean():.2f}")
title = "VAE samples (left) and their 5 nearest training digits"
viz.nearest_neighbour_grid(honest, binary.train, levels=2, k=5, title=title)
plt.show()

# %% [markdown]
# On toy mixtures with known centres the mode-collapse papers count what a sampler covers
# (``metrics.mode_coverage``): a sample within three standard deviations of a centre is of
# high quality, a centre reached by one is captured, and the histogram over centres is
# compared with the uniform one by KL. A Gaussian mixture with 9 components cannot fit the
# 25 modes of the grid, yet its wide components scatter samples near all of them: counting a
# mode from one sample (PacGAN's evaluation code) misses that, the share of high-quality
# samples does not, and so does a stricter count (20 of the 2500 samples, a fifth of a
# perfect sampler's 100).

# %%
grid = data.load("grid25")
centres, sigma = grid.extras["modes"]
for k in (9, 25):
    fitted = models.create("gaussian_mixture", grid.info, components=k, seed=0)
    train.fit(fitted, grid, progress=False, steps=100 if QUICK else 2000, lr=0.05,
              eval_every=10**9)  # fmt: skip
    samples = fitted.sample(2500, rng)
    found = metrics.mode_coverage(samples, centres, sigma)
    strict = metrics.mode_coverage(samples, centres, sigma, min_count=20)["modes"]
    print(f"{k:2d} components: {found['modes']} of 25 modes ({strict} with 20 samples or more), "
          f"{found['high_quality']:.0%} of samples of high quality, "
          f"reverse KL {found['reverse_kl']:.3f}")  # fmt: skip
