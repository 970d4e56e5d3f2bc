"""NADE's fused kernel against its NumPy reference on shapes drawn by hypothesis, in float32
and float64, for binary and real-valued inputs."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernels import nade as fast
from kernels import nade_reference as ref

TOLERANCE = {np.float32: 1e-5, np.float64: 1e-12}


def problem(seed, dtype, n, D, H, binary):
    rng = np.random.default_rng(seed)
    x = (rng.random((n, D)) < 0.5) if binary else rng.random((n, D))
    shapes = [(H, D), (H,), (D, H), (D,), (n, D)]
    return [x.astype(dtype)] + [rng.standard_normal(s).astype(dtype) for s in shapes]


@given(seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from([np.float32, np.float64]),
       n=st.integers(1, 5), D=st.integers(1, 9), H=st.integers(1, 6),
       binary=st.booleans())  # fmt: skip
def test_logits_and_gradients_match_the_reference(seed, dtype, n, D, H, binary):
    x, W, c, V, b, G = problem(seed, dtype, n, D, H, binary)
    tol = TOLERANCE[dtype]
    logits = fast.nade_logits(x, W, c, V, b)
    assert logits.dtype == dtype
    np.testing.assert_allclose(logits, ref.nade_logits_reference(x, W, c, V, b), tol, tol)
    grads = fast.nade_logits_grad(x, W, c, V, b, G)
    for name, got, want in zip("x W c V b".split(), grads,
                               ref.nade_logits_grad_reference(x, W, c, V, b, G)):  # fmt: skip
        assert got.dtype == dtype and got.shape == want.shape, name
        np.testing.assert_allclose(got, want, tol, tol * 10, err_msg=f"d{name}")


def test_bad_arguments_give_one_line_errors():
    x, W, c, V, b, G = problem(0, np.float64, 2, 3, 4, True)
    with pytest.raises(
        ValueError, match=r"expected x \(n, D\), W \(H, D\).*got x \(2, 3\), W \(3, 4\)"
    ):
        fast.nade_logits(x, W.T, c, V, b)
    with pytest.raises(TypeError, match="share one float dtype"):
        fast.nade_logits(x.astype(np.float32), W, c, V, b)
    with pytest.raises(ValueError, match="G is"):
        fast.nade_logits_grad(x, W, c, V, b, G[:, :2])
