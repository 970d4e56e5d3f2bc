"""Latent diffusion (Rombach, Blattmann, Lorenz, Esser & Ommer 2022), in small: a DDPM on the
codes of a trained VAE, decoded by the VAE.

Stage one is a ``vae`` run (``autoencoder=RUN_FOLDER``; the convolutional one, ``arch=conv``,
is the paper's kind). Stage two, this model, trains the DDPM of ``ddpm.py`` (every one of its
settings applies) on the codes

    z~ = z / s,   z = mu(x) (``code="mean"``)  or  z ~ q(z | x) (``code="sample"``, as the
                  paper's KL-regularised autoencoder is used),

where s is one number, the codes' standard deviation over the training set, fixed before
training (the paper's scale factor, its section 4.3.2 and appendix G: the DDPM's schedule
assumes data of about unit variance). Sampling runs the DDPM's sampler in code space and
decodes with the VAE's mean, x = E[x | z = s z~], as the paper decodes with D(z). A code has
L numbers where the image has D, which is where the saving in training time comes from; the
price is the VAE's reconstruction error, which no prior can undo.

The VAE stays frozen: it is read from its run folder, neither trained nor saved with this
model, so the folder must stay where it is. ``log_prob(x)`` is a lower bound on log p(x) with
the DDPM as the prior of the VAE (one draw z ~ q(z | x)):

    log p(x) >= E_q[log p(x | z) + log p(z) - log q(z | x)],
    log p(z) = log p~(z / s) - L log s >= -L_vlb(z / s) - L log s,

the VAE's bound (Kingma & Welling 2014, eq. 6) with the DDPM's (Ho et al. 2020, eq. 5) inside
(of log p(x | y) with a class-conditional DDPM, ``num_classes``: the VAE has no condition).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.models.base import GenerativeModel, model_settings, register
from scratchgen.models.diffusion.ddpm import DDPM
from scratchgen.models.latent import bounds
from scratchgen.models.latent.vae import VAE

SCALE_EXAMPLES = 5000  # the training examples whose codes set s


class _CodePrior:
    """log p(z | y) of codes z (1, n, L) under the DDPM on z / s: its bound, minus L log s."""

    def __init__(self, prior: DDPM, scale: float, y: Any) -> None:
        self.prior, self.scale, self.y = prior, scale, y

    def log_prob(self, z: Tensor) -> Tensor:
        codes = z.data.reshape(-1, z.shape[-1]) / self.scale
        log_p = self.prior.log_prob(codes, self.y).data - z.shape[-1] * math.log(self.scale)
        return Tensor(log_p.reshape(z.shape[:-1]).astype(z.dtype))


@register("latent_diffusion", ("binary", "categorical", "continuous"),
          "latent diffusion (Rombach et al. 2022): a DDPM on the codes of a trained vae "
          "(autoencoder=RUN), decoded by it")  # fmt: skip
class LatentDiffusion(GenerativeModel):
    has_bound = True
    likelihood_in_training = False  # the bound costs T network passes
    ema_decay = DDPM.ema_decay
    settings_from = (DDPM,)

    def __init__(self, info: DataInfo, autoencoder: str = "",
                 code: Literal["mean", "sample"] = "mean", **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, autoencoder=autoencoder, code=code, **hparams)
        # set past Module's registration: the VAE is used, not trained, and not saved here
        object.__setattr__(self, "autoencoder", _load_autoencoder(autoencoder, info))
        prior_settings = {key: self.hparams[key] for key in model_settings(DDPM)}
        self.prior = DDPM(DataInfo((self.autoencoder.latent,), "continuous", None),
                          **prior_settings)  # fmt: skip
        self.register_buffer("scale", np.ones((), np.float64))  # s, set by initialize

    # ------------------------------------------------------------------ codes
    def encode(self, x: Any, rng: np.random.Generator | None = None) -> np.ndarray:
        """The scaled codes z / s (n, L) of data x: the posterior's means, or with
        ``code="sample"`` one draw from q(z | x) each (from ``rng``, else the model's own)."""
        with ad.no_grad():
            q = self.autoencoder.posterior(self.autoencoder.as_input(x))
            if self.hparams["code"] == "mean":
                z = q.base.loc.data
            else:
                z = q.sample(rng=rng or self.rng)
        return np.asarray(z, np.float64) / float(self.scale)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """E[x | z = s z~] for scaled codes z~ (n, L), in data space."""
        return self.autoencoder.decode_mean(np.asarray(codes) * float(self.scale))

    def initialize(self, x_train: np.ndarray, rng: np.random.Generator) -> None:
        """s = the standard deviation of the codes of (the first examples of) the training set."""
        self.scale = np.ones((), np.float64)
        starts = range(0, min(len(x_train), SCALE_EXAMPLES), 500)
        codes = np.concatenate([self.encode(x_train[i : i + 500], rng) for i in starts])
        self.scale = np.asarray(codes.std(), np.float64)

    # ------------------------------------------------------------------ the DDPM on codes
    def condition_data(self, data: Any, split: str) -> np.ndarray | None:
        return self.prior.condition_data(data, split)

    def loss(self, x: Any, y: Any = None) -> Tensor:
        """The DDPM's loss (its L_simple, or L_hybrid with a learned variance) on the codes."""
        return self.prior.loss(self.encode(x), y)

    def sample(self, n: int, rng: np.random.Generator, sampler: str | None = None,
               steps: int | None = None, y: Any = None,
               guidance: float = 0.0) -> np.ndarray:  # fmt: skip
        """n samples: codes by the DDPM's ``sampler`` (its settings' unless given; ``steps``
        for DDIM and the ODE solvers), under labels y with classifier-free ``guidance`` for a
        conditional prior, decoded by the VAE's mean."""
        codes = self.prior.sample(n, rng, sampler, steps, y=y, guidance=guidance)
        return self.decode(codes)

    def log_prob(self, x: Any, y: Any = None) -> Tensor:
        """The lower bound of the module docstring per example, in nats (one draw from q), of
        log p(x | y) for a conditional prior; T + 2 network passes."""
        vae = self.autoencoder
        with ad.no_grad():
            x = vae.as_input(x)
            prior = _CodePrior(self.prior, float(self.scale), y)
            return bounds.elbo(vae.targets(x), vae.posterior(x), prior, vae.likelihood, self.rng,
                               1, kl="mc")  # fmt: skip


def _load_autoencoder(folder: str, info: DataInfo) -> VAE:
    """The trained VAE of run ``folder``, checked against the data."""
    if not folder:
        raise ValueError("latent_diffusion: give autoencoder=RUN_FOLDER, the run of a trained "
                         "vae on this data")  # fmt: skip
    from scratchgen.train.runs import load_model_run  # train imports the models

    vae = load_model_run(folder, ("vae", "iwae"), info, "latent_diffusion", "autoencoder")
    if vae.flow is not None or vae.conditional or vae.inpainting:
        raise ValueError(f"latent_diffusion: the vae in {folder} must have a Gaussian posterior "
                         "and no condition")  # fmt: skip
    return vae
