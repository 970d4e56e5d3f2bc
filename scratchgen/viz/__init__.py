"""Pictures, drawn with matplotlib's Agg backend (no display needed)."""

from scratchgen.viz.graph import draw_graph

__all__ = ["draw_graph"]
