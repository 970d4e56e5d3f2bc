"""Consistency models (the course's frontier lectures): one- and few-step samplers learned by
making a network agree with itself along the probability-flow ODE's trajectories
(``scratchgen.consistency``)."""

from scratchgen.models.consistency.consistency_model import ConsistencyModel

__all__ = ["ConsistencyModel"]
