"""Probability distributions with ``log_prob``, ``sample``, ``rsample``, ``entropy`` and
closed-form ``kl_divergence``, constructed as in ``torch.distributions``."""

from scratchgen.distributions.bernoulli import Bernoulli
from scratchgen.distributions.categorical import Categorical
from scratchgen.distributions.distribution import Distribution
from scratchgen.distributions.independent import Independent
from scratchgen.distributions.kl import kl_divergence, register_kl
from scratchgen.distributions.logistic_mixture import DiscretizedLogisticMixture
from scratchgen.distributions.mixture import MixtureSameFamily
from scratchgen.distributions.multivariate_normal import MultivariateNormal
from scratchgen.distributions.normal import Normal

__all__ = [
    "Distribution", "Normal", "MultivariateNormal", "Bernoulli", "Categorical", "Independent",
    "MixtureSameFamily", "DiscretizedLogisticMixture", "kl_divergence", "register_kl",
]  # fmt: skip
