"""The tiled attention kernel against the full-matrix reference, forward and backward."""

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernels import _attention_numpy as tiles_in_numpy
from kernels import _threads
from kernels.attention import attention, attention_backward
from kernels.attention_reference import attention_backward_reference, attention_reference

TOLERANCE = {np.float32: 1e-4, np.float64: 1e-10}


@st.composite
def attention_problems(draw):
    sizes = dict(b=(1, 2), h=(1, 3), tq=(1, 40), tk=(1, 40), d=(1, 8), dv=(1, 6))
    shape = {name: draw(st.integers(low, high)) for name, (low, high) in sizes.items()}
    causal = draw(st.booleans())
    mask_kind = draw(st.sampled_from([None, "keys", "full"]))
    block = draw(st.sampled_from([4, 16, 128]))  # several tiles, and one tile for everything
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return shape, causal, mask_kind, block, dtype


def build(problem, seed):
    shape, causal, mask_kind, block, dtype = problem
    rng = np.random.default_rng(seed)
    b, h, tq, tk, d, dv = (shape[key] for key in ("b", "h", "tq", "tk", "d", "dv"))
    q = rng.standard_normal((b, h, tq, d)).astype(dtype)
    k = rng.standard_normal((b, h, tk, d)).astype(dtype)
    v = rng.standard_normal((b, h, tk, dv)).astype(dtype)
    mask = None
    if mask_kind == "keys":  # key padding: (b, 1, 1, tk)
        mask = rng.random((b, 1, 1, tk)) < 0.7
    elif mask_kind == "full":  # some query rows may see no key at all
        mask = rng.random((b, h, tq, tk)) < 0.5
    return q, k, v, causal, mask, block, dtype


@given(problem=attention_problems(), seed=st.integers(0, 2**32 - 1))
def test_forward_and_backward_match_the_reference(problem, seed):
    q, k, v, causal, mask, block, dtype = build(problem, seed)
    tol = TOLERANCE[dtype]
    out, lse = attention(q, k, v, causal, mask, block=block)
    out_ref, lse_ref = attention_reference(q, k, v, causal, mask)
    assert out.dtype == dtype and lse.dtype == dtype
    np.testing.assert_allclose(out, out_ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(lse, lse_ref, rtol=tol, atol=tol)  # -inf rows compare equal
    grad_out = np.random.default_rng(seed + 1).standard_normal(out.shape).astype(dtype)
    grads = attention_backward(q, k, v, out, lse, grad_out, causal, mask, block=block)
    grads_ref = attention_backward_reference(q, k, v, out_ref, lse_ref, grad_out, causal, mask)
    for fast, reference in zip(grads, grads_ref):
        assert fast.dtype == dtype
        np.testing.assert_allclose(fast, reference, rtol=10 * tol, atol=10 * tol)


@given(t=st.integers(2, 40), cut=st.integers(1, 39), block=st.sampled_from([4, 16, 128]),
       dtype=st.sampled_from([np.float32, np.float64]))  # fmt: skip
def test_causal_attention_does_not_look_ahead(t, cut, block, dtype):
    """Changing the inputs after position `cut` leaves every output before it unchanged."""
    cut = min(cut, t - 1)
    rng = np.random.default_rng(t * 100 + cut)
    q, k, v = (rng.standard_normal((1, 2, t, 4)).astype(dtype) for _ in range(3))
    out, _ = attention(q, k, v, causal=True, block=block)
    for x in (q, k, v):
        x[:, :, cut:] += rng.standard_normal(x[:, :, cut:].shape).astype(dtype)
    changed, _ = attention(q, k, v, causal=True, block=block)
    tol = TOLERANCE[dtype] / 100  # an output that saw a changed input would move by about 1
    np.testing.assert_allclose(out[:, :, :cut], changed[:, :, :cut], rtol=tol, atol=tol)


def test_float32_takes_the_compiled_loop_and_float64_the_numpy_tiles(monkeypatch):
    calls = []

    def spy(name):
        original = getattr(tiles_in_numpy, name)
        return lambda *args: calls.append(name) or original(*args)

    for name in ("forward", "backward"):
        monkeypatch.setattr(tiles_in_numpy, name, spy(name))
    for dtype, expected in [(np.float32, []), (np.float64, ["forward", "backward"])]:
        calls.clear()
        q = np.ones((1, 1, 4, 2), dtype)
        out, lse = attention(q, q, q)
        attention_backward(q, q, q, out, lse, out)
        assert calls == expected


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_with_no_allowed_key_give_zero_output(dtype):
    q = k = v = np.ones((1, 1, 3, 2), dtype)
    mask = np.array([True, False, True])[None, None, :, None] & np.ones((1, 1, 3, 3), bool)
    out, lse = attention(q, k, v, mask=mask)
    assert np.all(out[0, 0, 1] == 0) and lse[0, 0, 1] == -np.inf
    grads = attention_backward(q, k, v, out, lse, np.ones_like(out), mask=mask)
    assert all(np.all(np.isfinite(g)) for g in grads)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("where", ["q", "k"])
def test_a_nan_input_gives_nan_not_zero(where, dtype):
    """A NaN score must reach the output, its lse and the gradients (a training loop stops on
    NaN); it used to be taken for a row that saw no key, and made 0."""
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((1, 1, 4, 3)).astype(dtype) for _ in range(3))
    (q if where == "q" else k)[0, 0, 1, 0] = np.nan
    rows = [1] if where == "q" else [0, 1, 2, 3]  # a key's NaN reaches every query
    for forward, backward in [(attention, attention_backward),
                              (attention_reference, attention_backward_reference)]:  # fmt: skip
        out, lse = forward(q, k, v)
        assert np.all(np.isnan(out[0, 0, rows])) and np.all(np.isnan(lse[0, 0, rows]))
        grad_q, _, _ = backward(q, k, v, out, lse, np.ones_like(out))
        assert np.all(np.isnan(grad_q[0, 0, rows]))


@pytest.mark.parametrize(
    "shapes, mask, message",
    [
        (((1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 6)), None, None),
        (((1, 2, 3, 4), (1, 2, 5, 3), (1, 2, 5, 6)), None, "disagree"),
        (((2, 3, 4), (2, 3, 4), (2, 3, 4)), None, r"expected \(batch, heads, T, d\)"),
        (((1, 1, 3, 4), (1, 1, 5, 4), (1, 1, 5, 4)), np.ones((3, 4), bool), r"mask of shape"),
    ],
)  # fmt: skip
def test_argument_checks(shapes, mask, message):
    q, k, v = (np.zeros(s) for s in shapes)
    if message is None:
        out, _ = attention(q, k, v, mask=mask)  # cross-attention: Tq != Tk, dv != d
        assert out.shape == (1, 2, 3, 6)
        return
    with pytest.raises(ValueError, match=message):
        attention(q, k, v, mask=mask)


def test_the_blas_is_set_to_one_thread_during_the_call_and_given_its_count_back(monkeypatch):
    count, calls = [3], []

    def set_threads(n):
        calls.append(n)
        count[0] = n

    monkeypatch.setattr(_threads, "blas_thread_control", lambda: (set_threads, lambda: count[0]))
    q = np.ones((1, 1, 4, 2), np.float32)
    out, lse = attention(q, q, q)
    attention_backward(q, q, q, out, lse, out)
    assert calls == [1, 3, 1, 3] and count[0] == 3


def test_without_control_of_the_blas_the_loop_runs_on_one_thread(monkeypatch):
    """A BLAS whose thread count cannot be set: same numbers, Numba's threads given back."""
    monkeypatch.setattr(_threads, "blas_thread_control", lambda: None)
    shape = dict(b=2, h=2, tq=9, tk=7, d=3, dv=2)
    q, k, v, causal, mask, block, _ = build((shape, True, "keys", 4, np.float64), seed=0)
    before = numba.get_num_threads()
    out, lse = attention(q, k, v, causal, mask, block=block)
    assert numba.get_num_threads() == before
    out_ref, _ = attention_reference(q, k, v, causal, mask)
    np.testing.assert_allclose(out, out_ref, rtol=1e-10, atol=1e-10)
