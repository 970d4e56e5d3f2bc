"""The normalisation kernel against its NumPy reference on shapes drawn by hypothesis, in
float32 and float64, with one weight per channel (group norm) and one per position (layer
norm), on contiguous and strided inputs."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernels import normalization as fast
from kernels import normalization_reference as ref

TOLERANCE = {np.float32: 2e-5, np.float64: 1e-12}


@given(seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from([np.float32, np.float64]),
       n=st.integers(1, 4), G=st.integers(1, 3), K=st.integers(1, 4), P=st.integers(1, 9),
       per_position=st.booleans(), strided=st.booleans())  # fmt: skip
def test_forward_and_gradients_match_the_reference(seed, dtype, n, G, K, P, per_position,
                                                   strided):  # fmt: skip
    rng = np.random.default_rng(seed)
    x = (3 * rng.standard_normal((n, G, K, 2 * P)) + 1).astype(dtype)
    x = x[..., ::2] if strided else np.ascontiguousarray(x[..., :P])
    w_shape = (G, K, P if per_position else 1)
    w, b = (rng.standard_normal(w_shape).astype(dtype) for _ in range(2))
    g = rng.standard_normal(x.shape).astype(dtype)
    tol = TOLERANCE[dtype]
    y, mean, rstd = fast.normalise(x, w, b, 1e-5)
    assert y.dtype == dtype and mean.shape == rstd.shape == (n, G)
    np.testing.assert_allclose(y, ref.normalise_reference(x, w, b, 1e-5), tol, tol)
    grads = fast.normalise_grad(x, w, g, mean, rstd)
    for name, got, want in zip(("x", "weight", "bias"), grads,
                               ref.normalise_grad_reference(x, w, b, g, 1e-5)):  # fmt: skip
        assert got.dtype == dtype and got.shape == want.shape, name
        np.testing.assert_allclose(got, want, tol, tol * 10, err_msg=f"d{name}")


def test_a_constant_group_gives_zeros_not_nans():
    """var = 0: x_hat is 0 (rstd = 1 / sqrt(eps) stays finite), and so is dx."""
    x, w = np.full((1, 1, 2, 3), 5.0), np.ones((1, 2, 1))
    y, mean, rstd = fast.normalise(x, w, w * 0.5, 1e-5)
    np.testing.assert_array_equal(y, 0.5)
    dx, _, _ = fast.normalise_grad(x, w, np.ones_like(x), mean, rstd)
    np.testing.assert_allclose(dx, 0.0, atol=1e-12)


@pytest.mark.parametrize("args, error", [
    ((np.zeros((2, 3, 4)), np.ones((1, 3, 1)), np.ones((1, 3, 1))), "expected x"),
    ((np.zeros((2, 1, 3, 4)), np.ones((1, 3, 2)), np.ones((1, 3, 2))), "expected x"),
    ((np.zeros((2, 1, 3, 4), np.float32), np.ones((1, 3, 1)), np.ones((1, 3, 1))), "dtype"),
])  # fmt: skip
def test_bad_arguments_give_one_line_errors(args, error):
    with pytest.raises((ValueError, TypeError), match=error) as info:
        fast.normalise(*args, 1e-5)
    assert "\n" not in str(info.value)
