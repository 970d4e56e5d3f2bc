"""Normalising flows (lectures 7-8): the models, one file each, on the layers of
``scratchgen.bijections``; ``base.FlowModel`` holds what they share (base density,
dequantisation, conditioning, sampling at a temperature)."""

from scratchgen.models.flows import cnf, glow, iaf, maf, nice, nsf, realnvp  # noqa: F401
from scratchgen.models.flows.base import FlowModel

__all__ = ["FlowModel"]
