"""The variational autoencoder (Kingma & Welling, "Auto-Encoding Variational Bayes", 2014) and
its importance-weighted sibling (Burda, Grosse & Salakhutdinov, "Importance Weighted
Autoencoders", 2016).

    p(z) = N(0, I_L)      q(z | x) = N(mu(x), diag sigma(x)^2)      p(x | z): see observation.py

The encoder outputs (mu, log sigma); z = mu + sigma eps with eps ~ N(0, I) carries gradients
to the encoder (the reparameterisation trick, section 2.4). The training loss is

    loss = -1/n sum_i [ 1/S sum_s log p(x_i | z_is) ] + beta_t * KL_term

    KL_term = 1/n sum_i sum_d KL_id                              (beta = 1: the negative ELBO)
    KL_term = sum_d max(lambda, 1/n sum_i KL_id)                 with free bits lambda > 0

where KL_id = KL(q(z_d | x_i) || N(0, 1)) is the closed form (appendix B) or, with kl="mc",
the single-sample estimate log q(z_d | x_i) - log p(z_d). Options, each against posterior
collapse or for a chapter of the course:

- ``beta`` weighs the KL term (beta-VAE, Higgins et al. 2017, eq. 4);
- ``kl_warmup`` anneals it linearly from 0 to beta over that many updates (Bowman et al.,
  "Generating Sentences from a Continuous Space", 2016, section 3.1, KL cost annealing);
- ``free_bits`` lambda stops pushing a latent dimension's batch-average KL below lambda nats
  (Kingma et al., "Improved Variational Inference with Inverse Autoregressive Flow", 2016,
  appendix C, free bits);
- ``num_classes`` > 0 makes it a conditional VAE, q(z | x, y) and p(x | z, y), with the
  one-hot label joined to the encoder's input and the decoder's code (Sohn et al., "Learning
  Structured Output Representation using Deep Conditional Generative Models", 2015);
- ``inpaint`` = "top" or "left" conditions it instead on that half of the image, y = x_obs:
  it learns p(x | z, x_obs), and ``sample(n, rng, given=images)`` completes the other half
  (the observed half is copied from ``given``), one completion per draw of z;
- ``posterior_flow`` = "planar", "radial" or "iaf" makes q(z | x) a normalising flow of
  ``flow_length`` layers on the Gaussian, conditioned on features of x (``flow_posterior.py``;
  Rezende & Mohamed 2015, Kingma et al. 2016); the KL term is then estimated from the sample.

The IWAE (registered as "iwae") is the same network trained on L_k instead: loss = -1/n sum_i
L_k(x_i), whose gradient weighs the k samples by their normalised importance weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen import distributions as D
from scratchgen.data import DataInfo
from scratchgen.models.base import register
from scratchgen.models.latent import bounds
from scratchgen.models.latent.base import LatentVariableModel, gaussian_posterior, standard_normal
from scratchgen.models.latent.flow_posterior import FlowPosterior
from scratchgen.models.latent.flow_posterior import posterior_flow as posterior_flow_layers
from scratchgen.models.latent.networks import ARCHITECTURES, Decoder, Encoder
from scratchgen.models.latent.observation import Observation
from scratchgen.settings import Classes, Layers, NonNegative, OneOf, Size, Steps


@register(
    "vae",
    ("binary", "categorical", "continuous"),
    "VAE: Gaussian latents, reparameterised ELBO (beta, warm-up, free bits, conditional)",
)
class VAE(LatentVariableModel):
    objective = "elbo"

    def __init__(self, info: DataInfo, latent: Size = 16, hidden: Sequence[Size] = (256, 256),
                 arch: Annotated[str, OneOf(ARCHITECTURES)] = "mlp", filters: Size = 32,
                 beta: NonNegative = 1.0, kl: Literal["analytic", "mc"] = "analytic",
                 kl_warmup: Steps = 0, free_bits: NonNegative = 0.0, num_classes: Classes = 0,
                 inpaint: Literal["", "top", "left"] = "", samples: Size = 1,
                 eval_samples: Size = 100,
                 posterior_flow: Literal["", "planar", "radial", "iaf"] = "",
                 flow_length: Layers = 4, **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, latent=latent, hidden=list(hidden), arch=arch, filters=filters,
                         beta=beta, kl=kl, kl_warmup=kl_warmup, free_bits=free_bits,
                         num_classes=num_classes, inpaint=inpaint, samples=samples,
                         eval_samples=eval_samples, posterior_flow=posterior_flow,
                         flow_length=flow_length, **hparams)  # fmt: skip
        if posterior_flow and free_bits:
            raise ValueError(f"{type(self).__name__}: free bits need the KL per dimension, "
                             "which a flow posterior does not have")  # fmt: skip
        self.observed = observed_half(info, inpaint)
        if inpaint and num_classes:
            raise ValueError(f"{type(self).__name__}: condition on classes or on half the image "
                             "(inpaint), not both")  # fmt: skip
        rng = np.random.default_rng(hparams.get("seed", 0))
        self.latent = latent
        self.observation = Observation(info, self.dtype)
        condition = num_classes or (int(self.observed.sum()) if inpaint else 0)
        nets = dict(hidden=hidden, arch=arch, filters=filters, condition=condition, rng=rng,
                    dtype=self.dtype)  # fmt: skip
        # with a flow posterior the encoder also gives the flow's context h(x), L features
        self.encoder = Encoder(info, (3 if posterior_flow else 2) * latent, **nets)
        self.decoder = Decoder(info, latent, self.observation.per_dim, **nets)
        self.flow = (
            posterior_flow_layers(posterior_flow, latent, flow_length, latent, rng=rng,
                                  dtype=self.dtype)
            if posterior_flow else None
        )  # fmt: skip
        self.register_buffer("updates", np.zeros((), np.int64))  # for the KL warm-up

    # ------------------------------------------------------------------ the three distributions
    @property
    def inpainting(self) -> bool:
        return bool(self.hparams["inpaint"])

    def _condition(self, y: Any, n: int) -> np.ndarray | None:
        """The vector c joined to the networks' inputs: a one-hot label, the observed half of
        the images y (scaled as the encoder's input), or nothing."""
        if self.inpainting:
            if y is None:
                raise ValueError(f"{type(self).__name__}: this model completes images; give "
                                 "the images whose observed half it conditions on")  # fmt: skip
            images = np.broadcast_to(np.asarray(y.data if isinstance(y, Tensor) else y),
                                     (n,) + self.info.shape)  # fmt: skip
            scaled = self.observation.scaled(ad.Tensor(images.astype(self.dtype))).data
            return scaled[:, self.observed]
        return self._one_hot(y, n)

    def prior(self) -> D.Distribution:
        return standard_normal(self.latent, self.dtype)

    def _condition_or_own_half(self, x: Any, y: Any) -> Any:
        """y, or for an inpainting model without one, x itself (its own observed half)."""
        return x if self.inpainting and y is None else y

    def posterior(self, x: Tensor, y: Any = None) -> D.Distribution:
        y = self._condition_or_own_half(x, y)
        out = self.encoder(self.observation.scaled(x), self._condition(y, x.shape[0]))
        q0 = gaussian_posterior(out[:, : 2 * self.latent], self.latent)
        if self.flow is None:
            return q0
        return FlowPosterior(q0, self.flow, out[:, 2 * self.latent :])

    def kl_method(self) -> str:
        """How the KL term is computed: as set, except always by Monte Carlo ("mc") with a flow
        posterior, whose KL has no closed form."""
        return "mc" if self.flow is not None else self.hparams["kl"]

    def likelihood(self, z: Tensor, y: Any = None) -> D.Distribution:
        n = z.shape[-2] if z.ndim > 1 else 1
        return self.observation.distribution(self.decoder(z, self._condition(y, n)))

    def targets(self, x: Tensor) -> Any:
        return self.observation.targets(x)

    def _pieces(self, x: Any, y: Any):
        """As the base's, with an inpainting model's condition defaulting to x itself."""
        return super()._pieces(x, self._condition_or_own_half(x, y))

    def sample(self, n: int, rng: np.random.Generator, y: Any = None,
               given: Any = None) -> np.ndarray:  # fmt: skip
        """Ancestral samples; an inpainting model completes ``given`` (one image, or n), its
        observed half kept exactly."""
        if not self.inpainting:
            return super().sample(n, rng, y)
        if given is None:
            raise ValueError(f"{type(self).__name__}: give the images to complete (given=...)")
        images = np.broadcast_to(np.asarray(given), (n,) + self.info.shape)
        x = super().sample(n, rng, images)
        x[:, self.observed] = images[:, self.observed]
        return x

    # ------------------------------------------------------------------ training
    def kl_weight(self) -> float:
        """beta_t = beta min(1, t / kl_warmup) at update t (beta itself without warm-up)."""
        warmup = self.hparams["kl_warmup"]
        beta = self.hparams["beta"]
        return beta if not warmup else beta * min(1.0, float(self.updates) / warmup)

    def loss(self, x: Any, y: Any = None) -> Tensor:
        """-1/n sum_i 1/S sum_s log p(x_i | z_is) + beta_t KL_term (the module docstring), or
        for the IWAE -1/n sum_i L_k(x_i) (Burda et al. 2016, eq. 8) with k = ``samples``."""
        if self.objective == "iwae":
            loss = -ad.mean(bounds.iwae_bound(*self._pieces(x, y), self.rng,
                                              self.hparams["samples"]))  # fmt: skip
        else:
            targets, q, prior, likelihood = self._pieces(x, y)
            z = q.rsample((self.hparams["samples"],), rng=self.rng)  # (S, n, L)
            log_px_z = ad.mean(likelihood(z).log_prob(targets), axis=0)  # (n,)
            loss = -ad.mean(log_px_z) + self.kl_weight() * self.kl_term(q, prior, z)
        if ad.is_grad_enabled() and self.training:  # after: update t uses beta_t, as documented
            self.updates[...] += 1
        return loss

    def kl_term(self, q: D.Independent, prior: D.Distribution, z: Tensor) -> Tensor:
        """The batch's KL term from the per-dimension KL_id (closed form or one-sample), with
        the free-bits floor when it is set."""
        if self.flow is not None:  # one-sample KL of the whole code: log q_K(z) - log p(z)
            return ad.mean(q.log_prob(z) - prior.log_prob(z))
        if self.hparams["kl"] == "analytic":
            kl_id = D.kl_divergence(q.base, prior.base)
        else:
            kl_id = ad.mean(q.base.log_prob(z) - prior.base.log_prob(z), axis=0)
        free_bits = self.hparams["free_bits"]
        if free_bits:
            return ad.sum(ad.maximum(ad.mean(kl_id, axis=0), free_bits))
        return ad.mean(ad.sum(kl_id, axis=1))

    # ------------------------------------------------------------------ looking inside
    def elbo_terms(self, x: Any, y: Any = None) -> tuple[Tensor, Tensor]:
        """The ELBO's two terms per example, (E_q[log p(x | z)], KL(q(z | x) || p(z))), from
        one draw of z and the model's KL (closed form, or the one-sample estimate): a
        collapsed model has a KL near 0 and a reconstruction term no better than the prior's."""
        targets, q, prior, likelihood = self._pieces(x, y)
        z = q.rsample((1,), rng=self.rng)
        reconstruction = likelihood(z).log_prob(targets)[0]
        if self.kl_method() == "analytic":
            return reconstruction, D.kl_divergence(q, prior)
        return reconstruction, (q.log_prob(z) - prior.log_prob(z))[0]

    def kl_per_dimension(self, x: Any, y: Any = None) -> np.ndarray:
        """The closed-form KL(q(z_d | x) || p(z_d)) of each latent dimension, averaged over
        the batch (nats): dimensions near 0 carry no information about x (collapsed)."""
        if self.flow is not None:
            raise ValueError(f"{type(self).__name__}: a flow posterior's KL does not split by "
                             "dimension")  # fmt: skip
        with ad.no_grad():
            q = self.posterior(self.as_input(x), y)
            return D.kl_divergence(q.base, self.prior().base).data.mean(axis=0)

    def active_units(self, x: Any, y: Any = None, threshold: float = 0.01) -> int:
        """How many dimensions have Cov_x(E_q[z_d | x]) > threshold (Burda et al. 2016,
        section 5.2): the ones the decoder can use. (With a flow posterior, of the codes its
        mean_code gives.)"""
        with ad.no_grad():
            means = _code(self.posterior(self.as_input(x), y)).data
        return int(np.sum(means.var(axis=0) > threshold))

    def reconstruct(self, x: Any, y: Any = None) -> np.ndarray:
        """E[x | z = mu(x)]: decode each example's posterior mean."""
        with ad.no_grad():
            x = self.as_input(x)
            y = self._condition_or_own_half(x, y)
            mu = _code(self.posterior(x, y))
            out = self.decoder(mu, self._condition(y, x.shape[0]))
            return self.observation.mean(out).reshape(x.shape)

    def decode_mean(self, z: Any, y: Any = None) -> np.ndarray:
        """E[x | z] for codes z (n, L): latent traversals and interpolations."""
        with ad.no_grad():
            z = ad.as_constant(np.asarray(z, dtype=self.dtype))
            out = self.decoder(z, self._condition(y, z.shape[0]))
            return self.observation.mean(out).reshape((z.shape[0],) + self.info.shape)


def _code(q: D.Distribution) -> Tensor:
    """The posterior's representative code: q's mean, or a flow posterior's mean_code."""
    return q.mean_code() if isinstance(q, FlowPosterior) else q.base.loc


def observed_half(info: DataInfo, inpaint: str) -> np.ndarray:
    """Boolean mask of the data's shape, True on the observed half: "top" (the first half of
    the rows) or "left" (of the columns) of each image; all False for "" (no inpainting)."""
    mask = np.zeros(info.shape, dtype=bool)
    if not inpaint:
        return mask
    if len(info.shape) != 3:
        raise ValueError(f"inpaint={inpaint!r} needs images (C, H, W), not examples of shape "
                         f"{info.shape}")  # fmt: skip
    _, H, W = info.shape
    if inpaint == "top":
        mask[:, : H // 2] = True
    else:
        mask[:, :, : W // 2] = True
    return mask


@register(
    "iwae",
    ("binary", "categorical", "continuous"),
    "IWAE: the VAE trained on the importance-weighted bound with k = samples",
)
class IWAE(VAE):
    objective = "iwae"

    def __init__(self, info: DataInfo, samples: Size = 5, **settings: Any) -> None:
        super().__init__(info, samples=samples, **settings)
