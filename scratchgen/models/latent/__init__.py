"""Latent-variable models: p(x) = integral of p(x | z) p(z) dz, fitted through bounds on log p(x).

``bounds`` holds the ELBO and the importance-weighted bound, written once; ``base`` the
interface (prior, posterior, likelihood) from which every model gets its bounds, its
log-likelihood estimate and its sampler.
"""

from scratchgen.models.latent import bounds
from scratchgen.models.latent.base import LatentVariableModel
from scratchgen.models.latent.discrete_vae import DiscreteVAE
from scratchgen.models.latent.gmvae import GMVAE
from scratchgen.models.latent.linear_gaussian import LinearGaussian
from scratchgen.models.latent.observation import Observation
from scratchgen.models.latent.semi_supervised import SemiSupervisedVAE
from scratchgen.models.latent.vae import IWAE, VAE
from scratchgen.models.latent.vqvae import VQVAE

__all__ = [
    "bounds",
    "LatentVariableModel",
    "DiscreteVAE",
    "GMVAE",
    "LinearGaussian",
    "Observation",
    "SemiSupervisedVAE",
    "VAE",
    "IWAE",
    "VQVAE",
]
