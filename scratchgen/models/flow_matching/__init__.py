"""Flow matching (the course's frontier lectures): a velocity field trained by regression on the
velocity of conditional paths, sampled by integrating it (``scratchgen.flow_matching``,
``scratchgen.ode``)."""

from scratchgen.models.flow_matching.cfm import FlowMatching

__all__ = ["FlowMatching"]
