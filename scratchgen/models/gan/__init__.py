"""Adversarial models (lectures 9-10): the objectives, the gradient penalty, the players'
networks, and the models on the trainer's two-player contract."""

from scratchgen.models.gan import gan  # noqa: F401 (it registers)
from scratchgen.models.gan.gan import GAN
from scratchgen.models.gan.objectives import OBJECTIVES, Objective
from scratchgen.models.gan.penalty import gradient_penalty

__all__ = ["GAN", "OBJECTIVES", "Objective", "gradient_penalty"]
