"""Discrete diffusion on token sequences (the course's last lecture): D3PM's T-step chain,
masked diffusion in continuous time (MDLM) and score entropy (SEDD), on the forward chains,
bounds and samplers of ``scratchgen.discrete_diffusion``."""

from scratchgen.models.discrete_diffusion.d3pm import D3PM
from scratchgen.models.discrete_diffusion.mdlm import MDLM
from scratchgen.models.discrete_diffusion.sedd import SEDD

__all__ = ["D3PM", "MDLM", "SEDD"]
