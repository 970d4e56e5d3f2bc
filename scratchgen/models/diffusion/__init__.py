"""Diffusion models (lectures 13-14 and 16): DDPM in discrete time and the score-based SDE
model in continuous time, on the mathematics of ``scratchgen.diffusion``, and the noisy
classifier that guides them (Dhariwal & Nichol 2021), and latent diffusion: a DDPM on a VAE's
codes (Rombach et al. 2022)."""

from scratchgen.models.diffusion.ddpm import DDPM
from scratchgen.models.diffusion.latent import LatentDiffusion
from scratchgen.models.diffusion.noisy_classifier import NoisyClassifier
from scratchgen.models.diffusion.score_sde import ScoreSDE

__all__ = ["DDPM", "LatentDiffusion", "NoisyClassifier", "ScoreSDE"]
