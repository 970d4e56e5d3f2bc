"""``draw_graph``: the computation graph behind a tensor, drawn with matplotlib.

Layout: an op's column is one right of its deepest input op, so arrows point right, in the
direction of the forward pass (backward walks them from right to left); a leaf sits one column
left of the first op that uses it, below the ops of that column.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import autodiff as ad

_COLOURS = {"grad_leaf": "#a6cee3", "constant": "#dddddd", "op": "#ffffff"}
_ARROW = {"arrowstyle": "->", "color": "#555555"}


def _columns(nodes: list[ad.GraphNode]) -> dict[int, int]:
    column: dict[int, int] = {}
    for n in nodes:  # inputs come first
        if not n.is_leaf:
            column[n.key] = 1 + max((column[k] for k in n.inputs if k in column), default=0)
    first_use: dict[int, int] = {}
    for n in nodes:
        for k in n.inputs:
            first_use[k] = min(first_use.get(k, column[n.key]), column[n.key])
    for n in nodes:
        if n.is_leaf:
            column[n.key] = max(first_use.get(n.key, 1) - 1, 0)
    return column


def draw_graph(
    output: ad.Tensor, names: Mapping[str, ad.Tensor] | None = None, ax: Any = None
) -> Any:
    """Draw the graph behind ``output``; returns the matplotlib Axes.

    Boxes show the op (or the leaf's name), the shape and the dtype; blue leaves require grad.
    """
    import matplotlib.pyplot as plt

    nodes = ad.graph_nodes(output, names)
    depth = _columns(nodes)
    rows: dict[int, int] = {}
    position = {}
    for n in sorted(nodes, key=lambda n: n.is_leaf):  # ops on top, leaves below them
        column = depth[n.key]
        position[n.key] = (column, -rows.get(column, 0))
        rows[column] = rows.get(column, 0) + 1
    if ax is None:
        width = 2.4 * (max(depth.values()) + 1)
        _, ax = plt.subplots(figsize=(width, 1.1 * max(rows.values()) + 0.8))
    for n in nodes:
        x, y = position[n.key]
        for k in n.inputs:
            x0, y0 = position[k]
            ax.annotate("", xy=(x - 0.32, y), xytext=(x0 + 0.32, y0), arrowprops=_ARROW)
        kind = "op" if not n.is_leaf else "grad_leaf" if n.requires_grad else "constant"
        box = {"boxstyle": "round", "facecolor": _COLOURS[kind], "edgecolor": "#333333"}
        text = f"{n.label}\n{n.shape} {n.dtype}"
        ax.text(x, y, text, ha="center", va="center", fontsize=8, family="monospace", bbox=box)
    columns = max(depth.values()) + 1
    ax.set_xlim(-0.6, columns - 0.4)
    ax.set_ylim(-max(rows.values()) + 0.4, 0.6)
    ax.axis("off")
    return ax
