"""The vector values of kernels._simd against NumPy, lane by lane."""

import numpy as np
import pytest
from numba import njit

from kernels._simd import LANES, fma, load, splat, store, zeros


@njit(cache=True)
def _multiply_add(a, b, c, out, at):  # pragma: no cover (JIT)
    """out[at : at + LANES] = a[at:] * b[at:] + c[at:], each lane rounded once."""
    store(out, at, fma(load(a, at), load(b, at), load(c, at)))


@njit(cache=True)
def _broadcast(x, out):  # pragma: no cover (JIT)
    store(out, 0, splat(x))
    store(out, LANES, zeros())


def test_load_and_store_move_one_vector_at_an_offset():
    rng = np.random.default_rng(0)
    a, b, c = rng.standard_normal((3, 3 * LANES)).astype(np.float32)
    out = np.full(3 * LANES, -7.0, np.float32)
    _multiply_add(a, b, c, out, 5)
    np.testing.assert_allclose(out[5 : 5 + LANES], (a * b + c)[5 : 5 + LANES], rtol=1e-6)
    assert (out[:5] == -7).all() and (out[5 + LANES :] == -7).all()  # nothing else written


def test_fma_rounds_once():
    """(1 + 2^-12)^2 = 1 + 2^-11 + 2^-24: in float32 the product rounds the 2^-24 away, a fused
    multiply-add subtracting 1 + 2^-11 keeps it."""
    a = np.full(LANES, 1 + 2.0**-12, np.float32)
    c = np.full(LANES, -(1 + 2.0**-11), np.float32)
    out = np.empty(LANES, np.float32)
    _multiply_add(a, a, c, out, 0)
    assert (a * a + c == 0).all()
    assert (out == 2.0**-24).all()


def test_splat_fills_every_lane_and_zeros_is_zero():
    out = np.ones(2 * LANES, np.float32)
    _broadcast(np.float32(2.5), out)
    assert (out[:LANES] == 2.5).all() and (out[LANES:] == 0).all()


def test_anything_but_float32_is_refused_when_compiled():
    @njit
    def wrong(a):
        return load(a, 0)

    with pytest.raises(TypeError, match="expected a 1-D float32 array"):
        wrong(np.zeros(LANES))
    with pytest.raises(TypeError, match="splat: expected a float32"):
        njit(lambda x: splat(x))(1.0)
