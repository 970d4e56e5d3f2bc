"""A table of every operation of the engine, each with a hypothesis-driven input builder.

A case's ``build(data, rng, dtype)`` draws shapes and static arguments from hypothesis's
``data`` and values from ``rng``, and returns ``(fn, inputs)``. Values are placed where the
function is smooth: logs and square roots see positive numbers, kinks (abs, relu, clip,
max, maximum) are at least 0.1 away, so central differences with eps = 1e-6 never straddle one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import autodiff as ad

SHAPES = array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
NONSCALAR = array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def normal(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def positive(rng, shape, dtype):
    return rng.uniform(0.5, 2.0, shape).astype(dtype)


def away_from_zero(rng, shape, dtype):
    """|x| >= 0.1, random sign."""
    return (rng.choice([-1.0, 1.0], shape) * rng.uniform(0.1, 2.0, shape)).astype(dtype)


def distinct(rng, shape, dtype):
    """Values at least 0.1 apart, so that a max or min has a clear winner."""
    n = int(np.prod(shape))
    return (0.1 * rng.permutation(n) + rng.uniform(0, 0.01, n)).reshape(shape).astype(dtype)


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable  # (data, rng, dtype) -> (fn, list of inputs)
    second_order: bool = True

    def __repr__(self) -> str:
        return self.name


def unary(name, fn, values=normal, second_order=True):
    def build(data, rng, dtype):
        return fn, [values(rng, data.draw(SHAPES), dtype)]

    return Case(name, build, second_order)


def binary(name, fn, left=normal, right=normal):
    def build(data, rng, dtype):
        shapes = data.draw(mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
        a, b = shapes.input_shapes
        return fn, [left(rng, a, dtype), right(rng, b, dtype)]

    return Case(name, build)


def axis_and_keepdims(data, ndim):
    axis = data.draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1)) if ndim else st.none())
    return axis, data.draw(st.booleans())


def reduction(name, fn, values=normal, second_order=True):
    def build(data, rng, dtype):
        shape = data.draw(NONSCALAR)
        axis, keepdims = axis_and_keepdims(data, len(shape))
        return (lambda x: fn(x, axis=axis, keepdims=keepdims)), [values(rng, shape, dtype)]

    return Case(name, build, second_order)


def along_axis(name, fn):
    """Softmax-like functions of one axis."""

    def build(data, rng, dtype):
        shape = data.draw(NONSCALAR)
        axis = data.draw(st.integers(-len(shape), len(shape) - 1))
        return (lambda x: fn(x, axis=axis)), [normal(rng, shape, dtype)]

    return Case(name, build)


# ---------------------------------------------------------------- shape operations
def build_reshape(data, rng, dtype):
    shape = data.draw(SHAPES)
    target = tuple(data.draw(st.permutations(list(shape)))) + (1,)
    return (lambda x: ad.reshape(x, target)), [normal(rng, shape, dtype)]


def build_transpose(data, rng, dtype):
    shape = data.draw(NONSCALAR)
    axes = tuple(data.draw(st.permutations(list(range(len(shape))))))
    return (lambda x: ad.transpose(x, axes)), [normal(rng, shape, dtype)]


def build_swapaxes(data, rng, dtype):
    shape = data.draw(NONSCALAR)
    i, j = (data.draw(st.integers(0, len(shape) - 1)) for _ in range(2))
    return (lambda x: ad.swapaxes(x, i, j)), [normal(rng, shape, dtype)]


def build_broadcast_to(data, rng, dtype):
    shapes = data.draw(mutually_broadcastable_shapes(num_shapes=1, max_dims=3, max_side=3))
    return (lambda x: ad.broadcast_to(x, shapes.result_shape)), [
        normal(rng, shapes.input_shapes[0], dtype)
    ]


def build_expand(data, rng, dtype):
    shape = data.draw(NONSCALAR).__add__((1,))
    n = data.draw(st.integers(1, 3))
    return (lambda x: x.expand(2, *([-1] * (len(shape) - 1)), n)), [normal(rng, shape, dtype)]


def build_squeeze(data, rng, dtype):
    shape = data.draw(SHAPES)
    with_ones = (1,) + shape + (1,)
    axis = data.draw(st.sampled_from([None, 0, -1]))
    return (lambda x: ad.squeeze(x, axis)), [normal(rng, with_ones, dtype)]


def build_unsqueeze(data, rng, dtype):
    shape = data.draw(SHAPES)
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    return (lambda x: ad.unsqueeze(x, axis)), [normal(rng, shape, dtype)]


def build_concatenate(data, rng, dtype):
    shape = data.draw(NONSCALAR)
    axis = data.draw(st.integers(0, len(shape) - 1))
    lengths = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    parts = [normal(rng, shape[:axis] + (n,) + shape[axis + 1 :], dtype) for n in lengths]
    return (lambda *xs: ad.concatenate(xs, axis=axis)), parts


def build_stack(data, rng, dtype):
    shape = data.draw(SHAPES)
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    count = data.draw(st.integers(1, 3))
    return (lambda *xs: ad.stack(xs, axis=axis)), [normal(rng, shape, dtype) for _ in range(count)]


def build_pad(data, rng, dtype):
    shape = data.draw(NONSCALAR)
    widths = [tuple(data.draw(st.integers(0, 2)) for _ in range(2)) for _ in shape]
    return (lambda x: ad.pad(x, widths, constant_values=1.5)), [normal(rng, shape, dtype)]


def build_flip(data, rng, dtype):
    shape = data.draw(NONSCALAR)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    return (lambda x: ad.flip(x, axis)), [normal(rng, shape, dtype)]


def build_basic_index(data, rng, dtype):
    shape = data.draw(NONSCALAR)
    index = tuple(
        data.draw(
            st.one_of(
                st.integers(-n, n - 1),
                st.builds(
                    slice, st.none() | st.integers(0, n), st.none(), st.sampled_from([1, 2, -1])
                ),
            )
        )
        for n in shape
    )
    return (lambda x: x[index]), [normal(rng, shape, dtype)]


def build_advanced_index(data, rng, dtype):
    """Integer arrays with repeats: the gradient must add up the repeated reads."""
    shape = data.draw(NONSCALAR)
    # negative rows count from the end; a 2-D index is an embedding lookup's (n, t)
    rows_shape = data.draw(st.sampled_from([(), (1,), (2, 3)])) + (data.draw(st.integers(1, 4)),)
    rows = rng.integers(-shape[0], shape[0], size=rows_shape)
    return (lambda x: x[rows] * 1.0), [normal(rng, shape, dtype)]


def build_mask_index(data, rng, dtype):
    shape = data.draw(NONSCALAR)
    mask = rng.random(shape) < 0.5
    return (lambda x: x[mask]), [normal(rng, shape, dtype)]


def build_take_along_axis(data, rng, dtype):
    shape = data.draw(NONSCALAR)
    axis = data.draw(st.integers(0, len(shape) - 1))
    picks = data.draw(st.integers(1, 4))
    index_shape = shape[:axis] + (picks,) + shape[axis + 1 :]
    indices = rng.integers(0, shape[axis], size=index_shape)
    return (lambda x: ad.take_along_axis(x, indices, axis)), [normal(rng, shape, dtype)]


def build_cumsum(data, rng, dtype):
    shape = data.draw(NONSCALAR)
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    return (lambda x: ad.cumsum(x, axis)), [normal(rng, shape, dtype)]


def build_var(data, rng, dtype):
    shape = data.draw(NONSCALAR.filter(lambda s: np.prod(s) > 1))
    ddof = data.draw(st.sampled_from([0, 1]))
    axis = data.draw(st.none() | st.sampled_from([a for a, n in enumerate(shape) if n > 1]))
    keepdims = data.draw(st.booleans())
    return (lambda x: ad.var(x, axis, ddof=ddof, keepdims=keepdims)), [normal(rng, shape, dtype)]


def build_where(data, rng, dtype):
    shapes = data.draw(mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3))
    c, a, b = shapes.input_shapes
    condition = rng.random(c) < 0.5
    return (lambda x, y: ad.where(condition, x, y)), [normal(rng, a, dtype), normal(rng, b, dtype)]


def build_clip(data, rng, dtype):
    shape = data.draw(SHAPES)
    x = (rng.choice([-1.0, 0.0, 1.0], shape) + rng.uniform(-0.4, 0.4, shape)).astype(dtype)
    return (lambda t: ad.clip(t, -0.5, 0.5)), [x]


# ---------------------------------------------------------------- linear algebra
BATCH = array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3)


def spd(rng, batch, n, dtype):
    a = rng.standard_normal(batch + (n, n))
    return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype(dtype)


def build_matmul(data, rng, dtype):
    n, k, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    batch_a, batch_b = data.draw(
        mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3)
    ).input_shapes
    a_shape = data.draw(st.sampled_from([(k,), batch_a + (n, k)]))
    b_shape = data.draw(st.sampled_from([(k,), batch_b + (k, m)]))
    return ad.matmul, [normal(rng, a_shape, dtype), normal(rng, b_shape, dtype)]


def build_stacked_matmul(data, rng, dtype):
    """A stack of matrices (..., n, k) against one matrix (k, m): the engine's one-GEMM path."""
    n, k, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    batch = data.draw(array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=3))
    a = normal(rng, batch + (n, k), dtype)
    if data.draw(st.booleans()):  # a non-contiguous stack, as attention's heads give
        a = np.swapaxes(normal(rng, batch[:-1] + (n, batch[-1], k), dtype), -2, -3)
    return ad.matmul, [a, normal(rng, (k, m), dtype)]


def build_inv(data, rng, dtype):
    return ad.inv, [spd(rng, data.draw(BATCH), data.draw(st.integers(1, 4)), dtype)]


def build_slogdet(data, rng, dtype):
    n = data.draw(st.integers(1, 4))
    a = rng.standard_normal(data.draw(BATCH) + (n, n)) + 3 * np.eye(n) * rng.choice([-1, 1])
    return (lambda x: ad.slogdet(x)[1]), [a.astype(dtype)]


def build_solve(data, rng, dtype):
    n = data.draw(st.integers(1, 4))
    batch_a, batch_b = data.draw(
        mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3)
    ).input_shapes
    b_shape = data.draw(st.sampled_from([(n,), batch_b + (n, data.draw(st.integers(1, 3)))]))
    return ad.solve, [spd(rng, batch_a, n, dtype), normal(rng, b_shape, dtype)]


def build_triangular_solve(data, rng, dtype):
    n = data.draw(st.integers(1, 4))
    lower = data.draw(st.booleans())
    batch = data.draw(BATCH)
    a = spd(rng, batch, n, dtype)
    b_shape = data.draw(st.sampled_from([(n,), batch + (n, 2)]))
    # The untouched triangle holds noise: the solve must not read it (and gives it no gradient).
    return (lambda x, y: ad.triangular_solve(x, y, lower=lower)), [a, normal(rng, b_shape, dtype)]


def build_cholesky(data, rng, dtype):
    """A = X X^T + n I: finite differences move A symmetrically, as the gradient assumes."""
    n = data.draw(st.integers(1, 4))
    x = normal(rng, data.draw(BATCH) + (n, n), dtype)
    return (
        lambda t: ad.cholesky(t @ ad.swapaxes(t, -1, -2) + float(n) * np.eye(n, dtype=dtype))
    ), [x]


CASES = [
    # elementwise
    unary("negative", ad.negative),
    unary("exp", ad.exp),
    unary("log", ad.log, positive),
    unary("log1p", ad.log1p, positive),
    unary("expm1", ad.expm1),
    unary("sqrt", ad.sqrt, positive),
    unary("abs", ad.abs, away_from_zero),
    unary("tanh", ad.tanh),
    unary("sigmoid", ad.sigmoid),
    unary("relu", ad.relu, away_from_zero),
    unary("softplus", ad.softplus),
    unary("log_sigmoid", ad.log_sigmoid),
    unary("sin", ad.sin),
    unary("cos", ad.cos),
    unary("pow_scalar", lambda x: x**3, normal),
    unary("rpow_scalar", lambda x: 2.0**x, normal),
    Case("clip", build_clip),
    binary("add", ad.add),
    binary("subtract", ad.subtract),
    binary("multiply", ad.multiply),
    binary("divide", ad.divide, normal, away_from_zero),
    binary("power", ad.power, positive, normal),
    binary("maximum", lambda x, y: ad.maximum(x, y + 0.05), distinct, distinct),
    binary("minimum", lambda x, y: ad.minimum(x, y + 0.05), distinct, distinct),
    Case("where", build_where),
    # reductions
    reduction("sum", ad.sum),
    reduction("mean", ad.mean),
    Case("var", build_var),
    reduction("max", ad.max, distinct),
    reduction("min", ad.min, distinct),
    reduction("logsumexp", ad.logsumexp),
    along_axis("softmax", ad.softmax),
    along_axis("log_softmax", ad.log_softmax),
    Case("cumsum", build_cumsum),
    # shapes
    Case("reshape", build_reshape),
    Case("transpose", build_transpose),
    Case("swapaxes", build_swapaxes),
    Case("broadcast_to", build_broadcast_to),
    Case("expand", build_expand),
    Case("squeeze", build_squeeze),
    Case("unsqueeze", build_unsqueeze),
    Case("concatenate", build_concatenate),
    Case("stack", build_stack),
    Case("pad", build_pad),
    Case("flip", build_flip),
    # indexing
    Case("basic_index", build_basic_index),
    Case("advanced_index", build_advanced_index),
    Case("mask_index", build_mask_index),
    Case("take_along_axis", build_take_along_axis),
    # linear algebra
    Case("matmul", build_matmul),
    Case("stacked_matmul", build_stacked_matmul),
    Case("inv", build_inv),
    Case("slogdet", build_slogdet),
    Case("solve", build_solve),
    Case("triangular_solve", build_triangular_solve),
    Case("cholesky", build_cholesky),
]

# The fused VJPs are primitives of their own: check them directly too.
CASES += [
    binary("tanh_backward", ad.elementwise.tanh_backward, normal, normal),
    binary("sigmoid_backward", ad.elementwise.sigmoid_backward, normal, normal),
]
