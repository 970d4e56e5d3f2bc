"""Diffusion on discrete data (the course's last lecture): the forward chains on tokens
(``graphs``), the bounds' terms (``objectives``: D3PM, masked diffusion, SEDD's score entropy),
the reverse samplers (``samplers``) and brute-force exact likelihoods on tiny spaces
(``exact``). The models are in ``scratchgen.models.discrete_diffusion``."""

from scratchgen.discrete_diffusion.graphs import GRAPHS, Graph
from scratchgen.discrete_diffusion.objectives import (
    d3pm_kl,
    masked_cross_entropy,
    reverse_step,
    score_entropy,
)
from scratchgen.discrete_diffusion.samplers import (
    SAMPLERS,
    analytic,
    analytic_step,
    euler,
    time_grid,
    x0_ancestral,
)

__all__ = ["GRAPHS", "Graph", "SAMPLERS", "analytic", "analytic_step", "d3pm_kl", "euler",
           "masked_cross_entropy", "reverse_step", "score_entropy", "time_grid",
           "x0_ancestral"]  # fmt: skip
