"""The GELU and SiLU kernels against their definitions computed in float64 NumPy: on sizes
drawn by hypothesis (inside one block, across blocks, and past the threaded threshold), far in
the tails where the exp is capped, and with NaN and infinity."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernels import activations as fast

C, A = np.sqrt(2 / np.pi), 0.044715


def reference(kind, x):
    """(y, y') in float64, by the tanh forms: GELU 0.5 x (1 + tanh u), SiLU x sigmoid(x)."""
    x = x.astype(np.float64)
    if kind == "gelu":
        t = np.tanh(C * (x + A * x**3))
        return 0.5 * x * (1 + t), 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * C * (1 + 3 * A * x * x)
    s = 0.5 + 0.5 * np.tanh(0.5 * x)
    return x * s, s * (1 + x * (1 - s))


def check(kind, x, g):
    y, slope = reference(kind, x)
    np.testing.assert_allclose(fast.activation(kind, x), y, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fast.activation_grad(kind, x, g), g * slope, rtol=1e-6, atol=1e-6)


@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(fast.KINDS),
       size=st.sampled_from([1, 7, 511, 512, 513, 3000]),
       scale=st.sampled_from([0.1, 1.0, 5.0]))  # fmt: skip
def test_the_kernels_match_their_definitions(seed, kind, size, scale):
    rng = np.random.default_rng(seed)
    x = (scale * rng.standard_normal(size)).astype(np.float32)
    check(kind, x, rng.standard_normal(size).astype(np.float32))


@pytest.mark.parametrize("kind", fast.KINDS)
def test_many_blocks_on_threads_and_strided_input(kind):
    """Past the threaded threshold, and on a non-contiguous view of the same shape."""
    rng = np.random.default_rng(0)
    x = (3 * rng.standard_normal((4, 100, 2 * 257))).astype(np.float32)[..., ::2]
    g = rng.standard_normal(x.shape).astype(np.float32)
    assert x.size > fast._THREADED_BLOCKS * fast._BLOCK
    y = fast.activation(kind, x)
    assert y.shape == x.shape and y.dtype == np.float32
    check(kind, x, g)


@pytest.mark.parametrize("kind", fast.KINDS)
def test_the_tails_where_the_exp_is_capped(kind):
    """Far below zero y and y' are 0 to within 1e-20 (no overflow, no denormal slow path);
    far above, y = x and y' = 1."""
    x = np.concatenate([-np.geomspace(1, 1e4, 200), np.geomspace(1, 1e4, 200)]).astype(np.float32)
    g = np.ones_like(x)
    with np.errstate(over="ignore", invalid="ignore"):
        check(kind, x, g)
    low = x < -100
    assert np.all(np.abs(fast.activation(kind, x)[low]) < 1e-20)
    assert np.all(np.abs(fast.activation_grad(kind, x, g)[low]) < 1e-20)


@pytest.mark.parametrize("kind", fast.KINDS)
def test_nan_propagates_and_plus_infinity_is_kept(kind):
    x = np.array([np.nan, np.inf, 0.5], np.float32)
    y = fast.activation(kind, x)
    assert np.isnan(y[0]) and y[1] == np.inf
    assert np.isnan(fast.activation_grad(kind, x, np.ones_like(x))[0])


def test_bad_input_is_refused():
    x = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="kind must be one of"):
        fast.activation("relu", x)
    with pytest.raises(ValueError, match="float32 arrays of one shape"):
        fast.activation("gelu", x.astype(np.float64))
    with pytest.raises(ValueError, match="float32 arrays of one shape"):
        fast.activation_grad("gelu", x, np.zeros(4, np.float32))
