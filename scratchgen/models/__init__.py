"""The model families. ``available()`` lists them; ``create(name, info, **hparams)`` builds one
for a dataset's ``info``. Each model file registers itself with ``@register``."""

from scratchgen.models import (  # noqa: F401 (they register)
    autoregressive,
    consistency,
    diffusion,
    discrete_diffusion,
    energy,
    flow_matching,
    flows,
    gan,
    gaussian_mixture,
    latent,
)
from scratchgen.models.base import (
    REGISTRY,
    GenerativeModel,
    UnsupportedData,
    available,
    check_settings,
    create,
    model_settings,
    register,
)

__all__ = ["GenerativeModel", "REGISTRY", "UnsupportedData", "available", "check_settings",
           "create", "model_settings", "register"]  # fmt: skip
