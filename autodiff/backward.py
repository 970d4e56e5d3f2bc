"""Reverse mode: find the graph, then one pass from the outputs back to the inputs.

For outputs y and a tensor t the pass computes the adjoint  t_bar = sum over the uses u of t of
VJP_u(u_bar), visiting every tensor after all the tensors made from it (reverse topological
order: latest created first), so that its adjoint is complete before it is passed on. The
search is iterative: a chain of 10 000 operations needs no recursion.

With ``create_graph=True`` the VJPs run with recording on; since every VJP is made of engine
operations, the adjoints are then tensors in a new graph and can be differentiated again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from autodiff import elementwise as _ew
from autodiff import reductions as _red
from autodiff.grad_mode import set_grad_enabled
from autodiff.primitive import as_constant
from autodiff.tensor import Tensor

_FREED = (
    "backward through a graph that was already freed: the first backward() released it "
    "(pass retain_graph=True to the first call to go through the graph twice)"
)


def _reachable(roots: Sequence[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
    """The tensors that require grad and are reachable from ``roots``: made by an op (sorted
    latest first, a reverse topological order), and leaves."""
    made: list[Tensor] = []
    leaves: list[Tensor] = []
    seen = {id(r) for r in roots}
    stack = list(roots)
    while stack:
        t = stack.pop()
        node = t._node
        if node is None:
            leaves.append(t)
            continue
        if node.inputs is None:
            raise RuntimeError(_FREED)
        made.append(t)
        for x in node.inputs:
            if x.requires_grad and id(x) not in seen:
                seen.add(id(x))
                stack.append(x)
    made.sort(key=_creation_seq, reverse=True)
    return made, leaves


def _creation_seq(t: Tensor) -> int:
    return t._node.seq


def _leading_to(made: list[Tensor], targets: set[int]) -> set[int]:
    """Ids of the tensors from which some target is reached going backward (inputs first)."""
    needed = set(targets)
    for t in reversed(made):
        if id(t) not in needed:
            for x in t._node.inputs:
                if id(x) in needed:
                    needed.add(id(t))
                    break
    return needed


def _vjp_error(op: Any, argnum: int, gx: Tensor, x: Tensor) -> RuntimeError:
    return RuntimeError(
        f"the VJP of {op.name} for argument {argnum} returned shape {gx.shape}, "
        f"but the input has shape {x.shape}"
    )


def _run(
    roots: Sequence[Tensor],
    root_grads: Sequence[Tensor],
    targets: Sequence[Tensor] | None,
    retain_graph: bool,
    create_graph: bool,
) -> list[Tensor | None]:
    """Propagate adjoints from ``roots``. With ``targets``, return their adjoints; otherwise
    accumulate into the ``.grad`` of every leaf reached."""
    wanted = {id(t): k for k, t in enumerate(targets)} if targets is not None else {}
    made, leaves = _reachable(roots)
    # Pruning pays only when some branch leads to no target, i.e. a reached leaf is not one.
    needed = None
    if targets is not None and any(id(leaf) not in wanted for leaf in leaves):
        needed = _leading_to(made, set(wanted))
    grads: dict[int, Tensor] = {}
    for r, g in zip(roots, root_grads):
        grads[id(r)] = grads[id(r)] + g if id(r) in grads else g
    results: list[Tensor | None] = [None] * len(wanted)

    with set_grad_enabled(create_graph):
        for t in made:
            g = grads.pop(id(t), None)
            if g is None:
                continue
            if id(t) in wanted:
                results[wanted[id(t)]] = g
            node = t._node
            op, inputs = node.op, node.inputs
            joint = op.joint_vjp(g, t, node)
            for argnum, x in enumerate(inputs):
                if not x.requires_grad or (needed is not None and id(x) not in needed):
                    continue
                gx = op.vjp(argnum, g, t, node) if joint is None else joint[argnum]
                if gx is None:
                    continue
                if gx.data.shape != x.data.shape:
                    if not op.broadcasting:
                        raise _vjp_error(op, argnum, gx, x)
                    gx = _red.sum_to(gx, x.data.shape)
                if gx.data.dtype != x.data.dtype:  # float32 + float64: each input its own dtype
                    gx = _ew.astype(gx, x.data.dtype)
                previous = grads.get(id(x))
                grads[id(x)] = gx if previous is None else previous + gx
            if not retain_graph:
                node.inputs = node.saved = None
        for leaf in leaves:
            g = grads.pop(id(leaf), None)
            if g is None:
                continue
            if targets is None:
                _accumulate_leaf(leaf, g, create_graph)
            elif id(leaf) in wanted:
                results[wanted[id(leaf)]] = g
    return results


def _accumulate_leaf(leaf: Tensor, g: Tensor, create_graph: bool) -> None:
    if not create_graph:
        # A broadcast view is read-only; a leaf's .grad should be an array of its own.
        data = g.data if g.data.flags.writeable else g.data.copy()
        g = Tensor._wrap(data)
    leaf.grad = g if leaf.grad is None else leaf.grad + g


def _seed(output: Tensor, gradient: Any, what: str) -> Tensor:
    """The adjoint the pass starts from: ``gradient``, or 1 for a single-element output."""
    if gradient is None:
        if output.size != 1:
            raise RuntimeError(
                f"{what} of a tensor of shape {output.shape} needs a gradient of that shape; "
                "only a single-element output gets the implicit gradient 1"
            )
        return Tensor._wrap(np.ones(output.shape, dtype=output.dtype))
    gradient = as_constant(gradient, output)
    if gradient.shape != output.shape:
        raise ValueError(
            f"{what}: gradient of shape {gradient.shape} does not match the output's "
            f"shape {output.shape}"
        )
    return gradient


def backward(
    output: Tensor,
    gradient: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate d(output)/d(leaf), contracted with ``gradient``, into each leaf's ``.grad``.

    As in PyTorch: ``gradient`` may be omitted for a single-element output; the graph is freed
    afterwards unless ``retain_graph`` (which defaults to ``create_graph``); with
    ``create_graph=True`` the accumulated ``.grad`` tensors are themselves differentiable.
    """
    if not output.requires_grad:
        raise RuntimeError(
            "backward() on a tensor that does not require grad: no input of the computation "
            "had requires_grad=True (or it was computed under no_grad)"
        )
    seed = _seed(output, gradient, "backward()")
    retain = create_graph if retain_graph is None else retain_graph
    _run([output], [seed], None, retain, create_graph)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    create_graph: bool = False,
    retain_graph: bool | None = None,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, as ``torch.autograd.grad``.

    Returns a tuple with one tensor per input: sum_k grad_outputs[k] . d outputs[k] / d input.
    ``.grad`` attributes are not touched. With ``create_graph=True`` the result is
    differentiable (Hessian-vector products, gradient penalties); ``retain_graph`` defaults to
    ``create_graph``. An input the outputs do not depend on is an error unless
    ``allow_unused=True``, which returns None for it.
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    for k, x in enumerate(inputs):
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError(f"grad: input {k} does not require grad")
    for k, y in enumerate(outputs):
        if not y.requires_grad:
            raise RuntimeError(f"grad: output {k} does not require grad (it is a constant)")
    seeds = [_seed(y, g, "grad()") for y, g in zip(outputs, grad_outputs)]
    retain = create_graph if retain_graph is None else retain_graph
    results = _run(outputs, seeds, inputs, retain, create_graph)
    for k, r in enumerate(results):
        if r is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {k} was not used to compute the outputs "
                "(pass allow_unused=True to get None for it)"
            )
    return tuple(results)
