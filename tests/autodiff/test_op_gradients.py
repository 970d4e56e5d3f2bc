"""Every operation's gradient against central finite differences, first and second order.

Shapes, axes and other static arguments are drawn by hypothesis; values come from a generator
seeded by hypothesis too, so a failure is reproducible from its printed example.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad
from tests.autodiff.op_cases import CASES

seeds = st.integers(0, 2**32 - 1)


@pytest.mark.parametrize("case", CASES, ids=repr)
@given(data=st.data(), seed=seeds)
def test_first_order_matches_finite_differences(case, data, seed):
    fn, inputs = case.build(data, np.random.default_rng(seed), np.float64)
    assert ad.gradcheck(fn, inputs)


@pytest.mark.parametrize("case", [c for c in CASES if c.second_order], ids=repr)
@given(data=st.data(), seed=seeds)
def test_second_order_matches_finite_differences(case, data, seed):
    fn, inputs = case.build(data, np.random.default_rng(seed), np.float64)
    assert ad.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("case", CASES, ids=repr)
@given(data=st.data(), seed=seeds)
def test_float32_stays_float32(case, data, seed):
    """Forward values and every gradient keep float32: no silent upcast anywhere."""
    fn, arrays = case.build(data, np.random.default_rng(seed), np.float32)
    inputs = [ad.Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*inputs)
    assert out.dtype == np.float32
    grads = ad.grad(out, inputs, np.ones(out.shape, np.float32), allow_unused=True)
    for g in grads:
        assert g is None or g.dtype == np.float32


@pytest.mark.parametrize("case", CASES, ids=repr)
@given(data=st.data(), seed=seeds)
def test_forward_of_float32_close_to_float64(case, data, seed):
    """The same function in both precisions: catches a float32 path that computes differently."""
    rng_state = np.random.default_rng(seed)
    fn, arrays = case.build(data, rng_state, np.float64)
    out64 = fn(*[ad.Tensor(a) for a in arrays]).data
    out32 = fn(*[ad.Tensor(a.astype(np.float32)) for a in arrays]).data
    np.testing.assert_allclose(out32, out64, rtol=2e-4, atol=2e-4)
