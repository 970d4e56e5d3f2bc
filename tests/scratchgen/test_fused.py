"""The fused primitives of scratchgen.nn.functional (GELU, SiLU, layer and group norm,
softmax cross-entropy) against their composite definitions in engine operations: equal to
rounding forward and backward, and differentiable to second order (their backward runs NumPy
at first order, engine operations when a graph is recorded: both paths are checked)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff as ad
from scratchgen.nn import functional as F

SQRT_2_OVER_PI = np.sqrt(2 / np.pi)


# ---------------------------------------------------------------- the definitions
def gelu_definition(x):
    return 0.5 * x * (1.0 + ad.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))


def silu_definition(x):
    return x * ad.sigmoid(x)


def standardise_definition(x, axes, eps=1e-5):
    centred = x - ad.mean(x, axis=axes, keepdims=True)
    return centred / ad.sqrt(ad.mean(centred * centred, axis=axes, keepdims=True) + eps)


def layer_norm_definition(x, w, b):
    return standardise_definition(x, (x.ndim - 1,)) * w + b


def group_norm_definition(x, w, b, groups):
    n, c = x.shape[:2]
    y = ad.reshape(standardise_definition(ad.reshape(x, (n, groups, -1)), (2,)), x.shape)
    shape = (1, c) + (1,) * (x.ndim - 2)
    return y * ad.reshape(w, shape) + ad.reshape(b, shape)


def cross_entropy_definition(z, y, axis):
    log_p = ad.log_softmax(z, axis=axis)
    return -ad.take_along_axis(log_p, np.expand_dims(y, axis), axis=axis).squeeze(axis)


def _cases(data, rng):
    """(name, fused f, definition f, inputs) for one drawn configuration of each primitive."""
    kind = data.draw(st.sampled_from(["gelu", "silu", "layer_norm", "group_norm", "cross_entropy"]))
    if kind in ("gelu", "silu"):
        x = 3 * rng.standard_normal(data.draw(st.sampled_from([(5,), (2, 3), (2, 1, 4)])))
        fused = F.gelu if kind == "gelu" else F.silu
        return kind, fused, gelu_definition if kind == "gelu" else silu_definition, [x]
    if kind == "layer_norm":
        lead = data.draw(st.sampled_from([(3,), (2, 3)]))
        d = data.draw(st.integers(2, 5))
        x = rng.standard_normal(lead + (d,))
        if data.draw(st.booleans()):  # without weight and bias
            return (kind, lambda x: F.layer_norm(x, d),
                    lambda x: standardise_definition(x, (x.ndim - 1,)), [x])  # fmt: skip
        inputs = [x, rng.standard_normal(d), rng.standard_normal(d)]
        return kind, (lambda x, w, b: F.layer_norm(x, d, w, b)), layer_norm_definition, inputs
    if kind == "group_norm":
        groups = data.draw(st.sampled_from([1, 2]))
        c = groups * data.draw(st.integers(1, 2))
        spatial = data.draw(st.sampled_from([(3,), (2, 3)]))
        inputs = [rng.standard_normal((2, c) + spatial), rng.standard_normal(c),
                  rng.standard_normal(c)]  # fmt: skip
        return (kind, lambda x, w, b: F.group_norm(x, groups, w, b),
                lambda x, w, b: group_norm_definition(x, w, b, groups), inputs)  # fmt: skip
    shape = data.draw(st.sampled_from([(4, 3), (2, 3, 2), (2, 2, 5)]))
    axis = data.draw(st.sampled_from([1, -1]))
    z = 2 * rng.standard_normal(shape)
    y = rng.integers(0, shape[axis], size=np.delete(np.array(shape), axis % len(shape)))
    return (kind, lambda t: F.cross_entropy(t, y, reduction="none", dim=axis),
            lambda t: cross_entropy_definition(t, y, axis % len(shape)), [z])  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_fused_primitives_equal_their_definitions_to_rounding(data, seed):
    """Forward, the first-order backward (NumPy path) and the recorded backward (engine path)
    all agree with the composite definition, in float64."""
    rng = np.random.default_rng(seed)
    name, fused, definition, arrays = _cases(data, rng)
    inputs = [ad.Tensor(a, requires_grad=True) for a in arrays]
    out, reference = fused(*inputs), definition(*inputs)
    np.testing.assert_allclose(out.data, reference.data, rtol=1e-12, atol=1e-12, err_msg=name)
    g = rng.standard_normal(out.shape)
    expected = ad.grad(reference, inputs, g)
    first = ad.grad(fused(*inputs), inputs, g)
    recorded = ad.grad(fused(*inputs), inputs, g, create_graph=True)
    for e, a, r in zip(expected, first, recorded):
        np.testing.assert_allclose(a.data, e.data, rtol=1e-10, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(r.data, e.data, rtol=1e-10, atol=1e-12, err_msg=name)


@settings(max_examples=20, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_fused_primitives_to_second_order_against_finite_differences(data, seed):
    name, fused, _, arrays = _cases(data, np.random.default_rng(seed))
    assert ad.gradcheck(fused, arrays), name
    assert ad.gradgradcheck(fused, arrays), name


def test_third_derivative_of_the_fused_activations():
    """d^3/dx^3 through the fused backward's own VJP, against the composite definition."""
    x = ad.Tensor(np.linspace(-3, 3, 7), requires_grad=True)
    for fused, definition in ((F.gelu, gelu_definition), (F.silu, silu_definition)):
        derivatives = []
        for f in (fused, definition):
            (d1,) = ad.grad(ad.sum(f(x)), x, create_graph=True)
            (d2,) = ad.grad(ad.sum(d1), x, create_graph=True)
            (d3,) = ad.grad(ad.sum(d2), x)
            derivatives.append(d3.data)
        np.testing.assert_allclose(*derivatives, rtol=1e-9, atol=1e-12)


def test_float32_stays_float32():
    x = ad.Tensor(np.random.default_rng(0).standard_normal((2, 4, 3)).astype(np.float32),
                  requires_grad=True)  # fmt: skip
    outs = [F.gelu(x), F.silu(x), F.layer_norm(x, 3), F.group_norm(x, 2),
            F.cross_entropy(x, np.zeros((2, 3), np.int64))]  # fmt: skip
    for out in outs:
        (g,) = ad.grad(ad.sum(out), x)
        assert out.dtype == np.float32 and g.dtype == np.float32


def test_cross_entropy_reductions_and_pytorch_layout():
    z = np.random.default_rng(1).standard_normal((4, 3, 2))  # (N, C, d1), classes on axis 1
    y = np.array([[0, 2], [1, 1], [2, 0], [0, 0]])
    per = F.cross_entropy(z, y, reduction="none").data
    expected = -np.log(np.take_along_axis(np.exp(z) / np.exp(z).sum(1, keepdims=True),
                                          y[:, None], 1))[:, 0]  # fmt: skip
    np.testing.assert_allclose(per, expected, rtol=1e-12)
    assert np.isclose(F.cross_entropy(z, y).item(), expected.mean())
    assert np.isclose(F.cross_entropy(z, y, reduction="sum").item(), expected.sum())


@pytest.mark.parametrize("call, message", [
    (lambda: F.cross_entropy(np.zeros((2, 3)), np.array([0, 3])), "outside"),
    (lambda: F.cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])), "integers"),
    (lambda: F.cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2])), "target of shape"),
    (lambda: F.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), reduction="avg"), "reduction"),
])  # fmt: skip
def test_cross_entropy_refuses_bad_targets_in_one_line(call, message):
    with pytest.raises((ValueError, TypeError), match=message) as error:
        call()
    assert "\n" not in str(error.value)
