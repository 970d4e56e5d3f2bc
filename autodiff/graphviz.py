"""The graph behind a tensor, to look at: ``graph_nodes`` (data) and ``to_dot`` (Graphviz text).

``scratchgen.viz.draw_graph`` draws the same nodes with matplotlib when Graphviz is absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from autodiff.tensor import Tensor


@dataclass(frozen=True)
class GraphNode:
    """One tensor of a graph: what made it and from which other tensors (by ``key``)."""

    key: int
    label: str  # the op's name, or the name given to a leaf ("leaf"/"constant" otherwise)
    shape: tuple[int, ...]
    dtype: str
    is_leaf: bool
    requires_grad: bool
    inputs: tuple[int, ...]  # keys of the inputs, one per use (x * x lists x twice)


def graph_nodes(output: Tensor, names: Mapping[str, Tensor] | None = None) -> list[GraphNode]:
    """Every tensor that ``output`` was computed from, inputs before the tensors made from them.

    ``names`` labels tensors you know, e.g. ``{"W": W, "x": x}``.
    """
    label_of = {id(t): name for name, t in (names or {}).items()}
    found: dict[int, Tensor] = {}
    stack = [output]
    while stack:
        t = stack.pop()
        if id(t) in found:
            continue
        found[id(t)] = t
        if t._node is not None and t._node.inputs is not None:
            stack.extend(t._node.inputs)

    def made_when(t: Tensor) -> int:
        return -1 if t._node is None else t._node.seq  # leaves first, then in creation order

    nodes = []
    for t in sorted(found.values(), key=made_when):
        node = t._node
        if node is None:
            label = label_of.get(id(t), "leaf" if t.requires_grad else "constant")
        else:
            label = node.op.name + (f" = {label_of[id(t)]}" if id(t) in label_of else "")
        inputs = () if node is None or node.inputs is None else tuple(id(x) for x in node.inputs)
        nodes.append(
            GraphNode(id(t), label, t.shape, str(t.dtype), node is None, t.requires_grad, inputs)
        )
    return nodes


def to_dot(output: Tensor, names: Mapping[str, Tensor] | None = None) -> str:
    """DOT text of the graph that produced ``output``: one box per tensor, arrows input -> op.

    Leaves are shaded (blue when they require grad, grey for constants). Render with
    ``dot -Tpng``, or with ``scratchgen.viz.draw_graph`` (see tutorial 00).
    """
    lines = [
        "digraph autodiff {",
        "  rankdir=LR;",
        '  node [shape=box, fontname="monospace", fontsize=10];',
    ]
    for n in graph_nodes(output, names):
        style = ""
        if n.is_leaf:
            style = f', style=filled, fillcolor="{"lightblue" if n.requires_grad else "lightgrey"}"'
        lines.append(f'  t{n.key} [label="{n.label}\\n{n.shape} {n.dtype}"{style}];')
        lines.extend(f"  t{k} -> t{n.key};" for k in n.inputs)
    lines.append("}")
    return "\n".join(lines) + "\n"
