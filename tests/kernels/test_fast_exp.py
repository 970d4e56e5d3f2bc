"""The vectorisable exp of the attention kernel against NumPy's exp in float64."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kernels._fast_exp import exp_shifted_sum

FLOAT32_IN_RANGE = st.floats(-87.0, 70.0, width=32)  # with |shift| <= 10: 300 e^80 < float32 max


@given(x=hnp.arrays(np.float32, st.integers(1, 300), elements=FLOAT32_IN_RANGE),
       shift=st.floats(-10, 10, width=32))  # fmt: skip
def test_float32_exp_is_within_about_one_ulp_and_returns_the_sum(x, shift):
    shift = np.float32(shift)
    exact = np.exp((x - shift).astype(np.float64))  # of the float32 difference, as the kernel
    keep = (x - shift >= -87.3) & (x - shift <= 88.0)  # where a float32 result is normal
    row = x.copy()
    total = exp_shifted_sum(row, shift, np.empty(row.size, np.int32))
    assert row.dtype == np.float32
    np.testing.assert_allclose(row[keep], exact[keep], rtol=1.5e-7, atol=0)
    np.testing.assert_allclose(total, row.sum(dtype=np.float64), rtol=1e-5)


def test_far_below_the_range_and_minus_infinity_give_exactly_zero():
    row = np.array([-np.inf, -1e30, -100.0, -88.5, 0.0], np.float32)
    total = exp_shifted_sum(row, np.float32(0), np.empty(row.size, np.int32))
    assert list(row) == [0, 0, 0, 0, 1] and total == 1
