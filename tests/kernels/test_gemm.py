"""The BLAS call used inside the attention kernel, against NumPy's products."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from kernels._gemm import gemm


@given(m=st.integers(0, 9), n=st.integers(0, 9), k=st.integers(0, 9), trans_a=st.booleans(),
       trans_b=st.booleans(), margin=st.integers(0, 3),
       seed=st.integers(0, 2**32 - 1))  # fmt: skip
def test_gemm_matches_numpy_on_blocks_of_larger_arrays(m, n, k, trans_a, trans_b, margin, seed):
    """Each operand is a block of rows and columns of a wider array: its row stride is not its
    width, as for the kernel's tiles."""
    rng = np.random.default_rng(seed)

    def block(rows, cols):
        wide = rng.standard_normal((rows + margin, cols + margin)).astype(np.float32)
        return wide[:rows, :cols]

    a = block(k, m) if trans_a else block(m, k)
    b = block(n, k) if trans_b else block(k, n)
    c = block(m, n)
    expected = 0.5 * (a.T if trans_a else a) @ (b.T if trans_b else b) + 2 * c
    gemm(np.float32(0.5), a, b, np.float32(2), c, trans_a, trans_b)
    np.testing.assert_allclose(c, expected, rtol=1e-5, atol=1e-5)
