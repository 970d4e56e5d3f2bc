"""Pictures, drawn with matplotlib's Agg backend (no display needed)."""

from scratchgen.viz.figures import (
    density,
    displacements,
    image_grid,
    loss_curve,
    nearest_neighbour_grid,
    scatter,
    sequences,
    tile,
    trajectory_gif,
)
from scratchgen.viz.graph import draw_graph

__all__ = [
    "draw_graph", "image_grid", "nearest_neighbour_grid", "tile", "scatter", "displacements",
    "density",
    "sequences", "loss_curve", "trajectory_gif",
]  # fmt: skip
