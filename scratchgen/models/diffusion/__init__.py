"""Diffusion models (lectures 13-14 and 16): DDPM in discrete time and the score-based SDE
model in continuous time, on the mathematics of ``scratchgen.diffusion``, and the noisy
classifier that guides them (Dhariwal & Nichol 2021)."""

from scratchgen.models.diffusion.ddpm import DDPM
from scratchgen.models.diffusion.noisy_classifier import NoisyClassifier
from scratchgen.models.diffusion.score_sde import ScoreSDE

__all__ = ["DDPM", "NoisyClassifier", "ScoreSDE"]
