"""``to_dot``: the graph behind a tensor as Graphviz DOT text, to see what backward will walk."""

from __future__ import annotations

from collections.abc import Mapping

from autodiff.tensor import Tensor


def _describe(t: Tensor) -> str:
    return f"{t.shape} {t.dtype}"


def to_dot(output: Tensor, names: Mapping[str, Tensor] | None = None) -> str:
    """DOT text of the graph that produced ``output``: one box per tensor, arrows input -> op.

    Leaves are shaded (darker when they require grad); ``names`` labels tensors you know, e.g.
    ``to_dot(loss, {"W": W, "x": x})``. Render with ``dot -Tpng`` or see tutorial 00.
    """
    label_of = {id(t): name for name, t in (names or {}).items()}
    lines = [
        "digraph autodiff {",
        "  rankdir=LR;",
        '  node [shape=box, fontname="monospace", fontsize=10];',
    ]
    seen: set[int] = set()
    stack = [output]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        node = t._node
        if node is None:
            name = label_of.get(id(t), "leaf" if t.requires_grad else "constant")
            fill = "lightblue" if t.requires_grad else "lightgrey"
            style = f', style=filled, fillcolor="{fill}"'
        else:
            name = node.op.name + (f" = {label_of[id(t)]}" if id(t) in label_of else "")
            style = ""
        lines.append(f'  t{id(t)} [label="{name}\\n{_describe(t)}"{style}];')
        if node is not None and node.inputs is not None:
            for x in node.inputs:
                lines.append(f"  t{id(x)} -> t{id(t)};")
                stack.append(x)
    lines.append("}")
    return "\n".join(lines) + "\n"
