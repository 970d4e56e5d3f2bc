"""Adversarial models (lectures 9-10): the objectives, the gradient penalty, the players'
networks, and the models on the trainer's two-player contract."""

from scratchgen.models.gan import bigan, cyclegan, gan  # noqa: F401 (they register)
from scratchgen.models.gan.base import AdversarialModel
from scratchgen.models.gan.bigan import BiGAN
from scratchgen.models.gan.cyclegan import CycleGAN
from scratchgen.models.gan.gan import GAN
from scratchgen.models.gan.objectives import OBJECTIVES, Objective
from scratchgen.models.gan.penalty import gradient_penalty

__all__ = ["AdversarialModel", "GAN", "BiGAN", "CycleGAN", "OBJECTIVES", "Objective",
           "gradient_penalty"]  # fmt: skip
