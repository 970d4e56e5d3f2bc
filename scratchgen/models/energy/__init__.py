"""Energy-based models (lectures 11-12): their objectives beside score matching
(``scratchgen.score_matching``) and the samplers (``scratchgen.samplers``)."""

from scratchgen.models.energy.ebm import EBM
from scratchgen.models.energy.ncsn import NCSN
from scratchgen.models.energy.objectives import contrastive_divergence, nce_loss
from scratchgen.models.energy.rbm import RBM

__all__ = ["EBM", "NCSN", "RBM", "contrastive_divergence", "nce_loss"]
