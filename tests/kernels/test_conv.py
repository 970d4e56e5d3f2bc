"""The convolution kernels against their explicit-sum references, on geometries drawn by
hypothesis, in float32 and float64."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernels import _direct as direct
from kernels import _tiles as tiles
from kernels import conv as fast
from kernels import conv_reference as ref
from kernels._shapes import geometry

TOLERANCE = {np.float32: 2e-4, np.float64: 1e-10}


@st.composite
def conv_geometries(draw, per_group=3):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c_in = groups * draw(st.integers(1, per_group))
    c_out = groups * draw(st.integers(1, per_group))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 9))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 9))
    n = draw(st.integers(1, 3))
    return dict(x_shape=(n, c_in, h, w), w_shape=(c_out, c_in // groups, kh, kw),
                stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), groups=groups)  # fmt: skip


def arrays(seed, dtype, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def close(a, b, dtype):
    assert a.dtype == dtype
    np.testing.assert_allclose(a, b, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype] * 10)


dtypes = st.sampled_from([np.float32, np.float64])
seeds = st.integers(0, 2**32 - 1)


@given(geo=conv_geometries(), dtype=dtypes, seed=seeds)
def test_conv2d_and_its_gradients_match_the_reference(geo, dtype, seed):
    x, w = arrays(seed, dtype, geo["x_shape"], geo["w_shape"])
    args = (geo["stride"], geo["padding"], geo["dilation"], geo["groups"])
    out = fast.conv2d(x, w, *args)
    close(out, ref.conv2d_reference(x, w, *args), dtype)
    (grad_out,) = arrays(seed + 1, dtype, out.shape)
    close(fast.conv2d_input_grad(grad_out, w, x.shape, *args),
          ref.conv2d_input_grad_reference(grad_out, w, x.shape, *args), dtype)  # fmt: skip
    close(fast.conv2d_weight_grad(x, grad_out, w.shape, *args),
          ref.conv2d_weight_grad_reference(x, grad_out, w.shape, *args), dtype)  # fmt: skip


@given(geo=conv_geometries(), dtype=dtypes, seed=seeds)
def test_kept_columns_give_the_same_weight_gradient(geo, dtype, seed):
    x, w = arrays(seed, dtype, geo["x_shape"], geo["w_shape"])
    args = (geo["stride"], geo["padding"], geo["dilation"], geo["groups"])
    out, columns = fast.conv2d_keeping_columns(x, w, *args)
    np.testing.assert_array_equal(out, fast.conv2d(x, w, *args))
    g = fast.geometry("conv2d", x.shape, w.shape, *args)
    if fast._pointwise(g) or tiles.weight_grad_pays(g, x.dtype):
        # a 1x1 kernel's products read the images as they are; the tiles read the buffer rows
        assert columns is None
        return
    assert columns is not None  # these batches are far below one chunk
    (grad_out,) = arrays(seed + 1, dtype, out.shape)
    np.testing.assert_array_equal(
        fast.conv2d_weight_grad(x, grad_out, w.shape, *args, columns=columns),
        fast.conv2d_weight_grad(x, grad_out, w.shape, *args),
    )


def test_columns_are_kept_only_for_a_batch_in_one_chunk(monkeypatch):
    x, w = arrays(0, np.float32, (4, 2, 5, 5), (3, 2, 3, 3))
    monkeypatch.setattr(fast, "CHUNK_ELEMENTS", 2 * 9 * 25 * 2)  # two samples per chunk
    assert fast.conv2d_keeping_columns(x, w, padding=1)[1] is None
    _, columns = fast.conv2d_keeping_columns(x[:2], w, padding=1)
    with pytest.raises(ValueError, match=r"columns of shape \(18, 50\) .* are not those"):
        fast.conv2d_weight_grad(x, np.zeros((4, 3, 5, 5), np.float32), w.shape, 1, 1,
                                columns=columns)  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("groups", [1, 2])
def test_one_by_one_convolution_matches_the_reference(dtype, groups):
    """A 1x1 kernel at stride 1 without padding: one product per sample, no im2col."""
    x, w = arrays(3, dtype, (3, 4, 5, 6), (6, 4 // groups, 1, 1))
    close(fast.conv2d(x, w, groups=groups), ref.conv2d_reference(x, w, 1, 0, 1, groups), dtype)
    (grad_out,) = arrays(4, dtype, (3, 6, 5, 6))
    close(fast.conv2d_weight_grad(x, grad_out, w.shape, groups=groups),
          ref.conv2d_weight_grad_reference(x, grad_out, w.shape, 1, 0, 1, groups),
          dtype)  # fmt: skip
    close(fast.conv2d_input_grad(grad_out, w, x.shape, groups=groups),
          ref.conv2d_input_grad_reference(grad_out, w, x.shape, 1, 0, 1, groups),
          dtype)  # fmt: skip
    w_t = arrays(5, dtype, (4, 6 // groups, 1, 1))[0]  # conv_transpose2d, the same product
    close(
        fast.conv_transpose2d(x, w_t, groups=groups),
        ref.conv_transpose2d_reference(x, w_t, 1, 0, 0, 1, groups),
        dtype,
    )


@given(geo=conv_geometries(), seed=seeds)
def test_input_grad_is_the_adjoint_of_conv2d(geo, seed):
    """<conv(x), y> == <x, conv_T(y)>: the definition of the transposed convolution."""
    x, w = arrays(seed, np.float64, geo["x_shape"], geo["w_shape"])
    args = (geo["stride"], geo["padding"], geo["dilation"], geo["groups"])
    out = fast.conv2d(x, w, *args)
    (y,) = arrays(seed + 1, np.float64, out.shape)
    lhs = np.sum(out * y)
    rhs = np.sum(x * fast.conv2d_input_grad(y, w, x.shape, *args))
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10)


@given(geo=conv_geometries(), dtype=dtypes, seed=seeds)
def test_conv_transpose2d_recovers_the_shape_and_matches_the_reference(geo, dtype, seed):
    """For y = conv2d(x), conv_transpose2d(y) has x's shape when output_padding is the part of
    the padded input the strides skipped, (H + 2p - d (k - 1) - 1) mod s, always below s."""
    n, c_in, h, w = geo["x_shape"]
    kh, kw = geo["w_shape"][2:]
    (sh, sw), (ph, pw), (dh, dw) = geo["stride"], geo["padding"], geo["dilation"]
    output_padding = ((h + 2 * ph - dh * (kh - 1) - 1) % sh, (w + 2 * pw - dw * (kw - 1) - 1) % sw)
    x0, w0 = arrays(seed, dtype, geo["x_shape"], geo["w_shape"])
    y_shape = fast.conv2d(
        x0, w0, geo["stride"], geo["padding"], geo["dilation"], geo["groups"]
    ).shape
    y, weight = arrays(seed + 1, dtype, y_shape, geo["w_shape"])
    args = (geo["stride"], geo["padding"], output_padding, geo["dilation"], geo["groups"])
    out = fast.conv_transpose2d(y, weight, *args)
    assert out.shape == geo["x_shape"]
    close(out, ref.conv_transpose2d_reference(y, weight, *args), dtype)


@given(dtype=dtypes, seed=seeds, k=st.integers(1, 4), dilation=st.integers(1, 3),
       stride=st.integers(1, 2), causal=st.booleans())  # fmt: skip
def test_conv1d_matches_the_reference(dtype, seed, k, dilation, stride, causal):
    x, w = arrays(seed, dtype, (2, 3, 11), (4, 3, k))
    padding = ((k - 1) * dilation, 0) if causal else 1
    close(fast.conv1d(x, w, stride, padding, dilation),
          ref.conv1d_reference(x, w, stride, padding, dilation), dtype)  # fmt: skip


def test_causal_conv1d_does_not_look_ahead():
    x, w = arrays(0, np.float64, (1, 2, 12), (3, 2, 3))
    out = fast.conv1d(x, w, padding=(4, 0), dilation=2)
    x_changed = x.copy()
    x_changed[..., 7:] += 1.0
    changed = fast.conv1d(x_changed, w, padding=(4, 0), dilation=2)
    np.testing.assert_array_equal(out[..., :7], changed[..., :7])
    assert not np.allclose(out[..., 7:], changed[..., 7:])


@pytest.mark.parametrize(
    "x_shape, w_shape, kwargs, message",
    [
        ((8, 3, 28, 28), (16, 1, 3, 3), {},
         r"input has 3 channels but weight expects 1 \(input \(8, 3, 28, 28\), weight \(16, 1"),
        ((8, 3, 28), (16, 3, 3, 3), {}, r"expected input \(N, C, H, W\)"),
        ((1, 1, 2, 2), (1, 1, 5, 5), {}, r"kernel 5x5 .* larger than the padded input 2x2"),
        ((1, 4, 8, 8), (6, 2, 3, 3), {"groups": 3}, "not divisible by groups=3"),
        ((1, 1, 8, 8), (1, 1, 3, 3), {"stride": 0}, "stride and dilation must be >= 1"),
    ],
)  # fmt: skip
def test_bad_conv2d_arguments_give_one_line_errors(x_shape, w_shape, kwargs, message):
    x, w = arrays(0, np.float32, x_shape, w_shape)
    with pytest.raises(ValueError, match=message) as error:
        fast.conv2d(x, w, **kwargs)
    assert "\n" not in str(error.value)


@st.composite
def transposed_geometries(draw):
    """conv_transpose2d calls with any output_padding PyTorch admits (below the stride or the
    dilation), half of them at or above the stride on some axis: a dilation above the stride,
    where part of the output is rows or columns that no input reaches."""
    groups = draw(st.sampled_from([1, 1, 2]))
    c_in, c_out = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    beyond_stride = draw(st.booleans())
    axes = []
    for _ in range(2):
        k, size = draw(st.integers(1, 3)), draw(st.integers(1, 5))
        if beyond_stride:
            s = draw(st.integers(1, 2))
            d = draw(st.integers(s + 1, 3))
            op = draw(st.integers(s, d - 1))
        else:
            s, d = draw(st.integers(1, 3)), draw(st.integers(1, 2))
            op = draw(st.integers(0, max(s, d) - 1))
        # H_out = (H - 1) s - 2p + d (k - 1) + op + 1 >= 1
        p = min(draw(st.integers(0, 2)), ((size - 1) * s + d * (k - 1) + op) // 2)
        axes.append((k, size, s, d, p, op))
    (kh, h, sh, dh, ph, oph), (kw, w, sw, dw, pw, opw) = axes
    return dict(x_shape=(draw(st.integers(1, 2)), c_in, h, w),
                w_shape=(c_in, c_out // groups, kh, kw), stride=(sh, sw), padding=(ph, pw),
                output_padding=(oph, opw), dilation=(dh, dw), groups=groups)  # fmt: skip


def transposed_args(geo):
    return geo["stride"], geo["padding"], geo["output_padding"], geo["dilation"], geo["groups"]


@given(geo=transposed_geometries(), dtype=dtypes, seed=seeds)
def test_conv_transpose2d_matches_the_scatter_for_every_admitted_output_padding(geo, dtype, seed):
    x, w = arrays(seed, dtype, geo["x_shape"], geo["w_shape"])
    args = transposed_args(geo)
    close(fast.conv_transpose2d(x, w, *args), ref.conv_transpose2d_reference(x, w, *args), dtype)


@pytest.mark.parametrize(
    "stride, dilation, output_padding",
    [(1, 1, 1), (2, 1, 2), (2, 3, 3), ((1, 2), 1, (0, 2))],
)
def test_output_padding_must_stay_below_the_stride_or_the_dilation(
    stride, dilation, output_padding
):
    x, w = arrays(0, np.float32, (1, 2, 4, 4), (2, 1, 3, 3))
    with pytest.raises(ValueError, match="smaller than the stride .* or the dilation"):
        fast.conv_transpose2d(x, w, stride=stride, output_padding=output_padding,
                              dilation=dilation)  # fmt: skip
    with pytest.raises(ValueError, match="smaller than the stride .* or the dilation"):
        ref.conv_transpose2d_reference(x, w, stride, 0, output_padding, dilation)


def test_output_padding_past_the_padding_appends_zeros():
    """Stride 1, dilation 2, output_padding 1, no padding: one more row and column than the
    scatter reaches, and they are zero; the rest is the output without output_padding."""
    x, w = arrays(0, np.float64, (1, 2, 4, 5), (2, 3, 3, 3))
    out = fast.conv_transpose2d(x, w, stride=1, output_padding=1, dilation=2)
    plain = fast.conv_transpose2d(x, w, stride=1, dilation=2)
    assert out.shape == (1, 3, 9, 10) and plain.shape == (1, 3, 8, 9)
    np.testing.assert_array_equal(out[:, :, :8, :9], plain)
    assert not out[:, :, 8].any() and not out[:, :, :, 9].any()


def test_mixed_dtypes_are_refused():
    x, w = arrays(0, np.float32, (1, 1, 4, 4), (1, 1, 3, 3))
    with pytest.raises(TypeError, match="one dtype"):
        fast.conv2d(x, w.astype(np.float64))


def check_against_the_reference(geo, dtype, seed, calls):
    """Forward, input and weight gradient against the references; returns the geometry."""
    x, w = arrays(seed, dtype, geo["x_shape"], geo["w_shape"])
    args = (geo["stride"], geo["padding"], geo["dilation"], geo["groups"])
    out = fast.conv2d(x, w, *args)
    (grad_out,) = arrays(seed + 1, dtype, out.shape)
    grad_x = fast.conv2d_input_grad(grad_out, w, x.shape, *args)
    grad_w = fast.conv2d_weight_grad(x, grad_out, w.shape, *args)
    close(out, ref.conv2d_reference(x, w, *args), dtype)
    close(grad_x, ref.conv2d_input_grad_reference(grad_out, w, x.shape, *args), dtype)
    close(grad_w, ref.conv2d_weight_grad_reference(x, grad_out, w.shape, *args), dtype)
    return geometry("test", x.shape, w.shape, *args)


@given(geo=conv_geometries(per_group=6), dtype=dtypes, seed=seeds)
def test_the_direct_loop_matches_the_reference(geo, dtype, seed):
    """Forced on every geometry (it serves long dot products only), so that strides,
    dilations, groups, and widths and channel counts that are not whole blocks of 4 all
    meet it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fast, "DIRECT_RUN", 0)
        patch.setattr(fast, "DIRECT_RUN_PER_CHANNEL", 0)
        patch.setattr(fast, "DIRECT_CHANNELS", 0)
        patch.setattr(fast, "DIRECT_DTYPES", (np.float32, np.float64))
        patch.setattr(tiles, "MIN_CHANNELS", 10**9)
        calls = spy_on_direct(patch)
        g = check_against_the_reference(geo, dtype, seed, calls)
    if not fast._pointwise(g):
        assert "conv2d" in calls
        assert ("input_grad" in calls) == direct.transposable(g)


@given(geo=conv_geometries(per_group=6), seed=seeds)
def test_the_tiles_match_the_reference(geo, seed):
    """Forced on every float32 geometry, whatever its channels (the spare ones of a tile are
    computed and dropped) and the length of its runs (the weight gradient's may end inside a
    tile)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tiles, "MIN_CHANNELS", 0)
        patch.setattr(tiles, "MIN_RUN", 0)
        patch.setattr(fast, "DIRECT_CHANNELS", 0)
        calls = spy_on_direct(patch)
        g = check_against_the_reference(geo, np.float32, seed, calls)
    if not fast._pointwise(g):
        assert {"tiles.conv2d", "tiles.weight_grad"} <= set(calls)
        assert ("input_grad" in calls) == direct.transposable(g)


def spy_on_direct(patch: pytest.MonkeyPatch) -> list[str]:
    """Record which of the direct loops' entry points run: ``_direct``'s forward as conv2d,
    the tiles' as tiles.NAME, and the flipped kernel of an input gradient as input_grad."""
    calls: list[str] = []
    entries = [(direct, "conv2d", "conv2d"), (direct, "flipped_kernel", "input_grad"),
               (tiles, "conv2d", "tiles.conv2d"),
               (tiles, "weight_grad", "tiles.weight_grad")]  # fmt: skip
    for module, name, label in entries:
        real = getattr(module, name)
        patch.setattr(module, name, lambda *a, _real=real, _label=label: calls.append(_label)
                      or _real(*a))  # fmt: skip
    return calls


def test_the_direct_loop_serves_long_dot_products_only(monkeypatch):
    calls = spy_on_direct(monkeypatch)
    x, w = arrays(0, np.float32, (2, 8, 6, 6), (5, 8, 3, 3))  # 72 numbers a dot product
    fast.conv2d(x, w, padding=1)
    fast.conv2d(x, w[:1], padding=1)  # one output channel: spare ones in its block cost less
    assert calls == ["conv2d", "conv2d"]
    fast.conv2d(x[:, :1], np.ones((4, 1, 7, 7), np.float32), padding=3)  # 49 numbers
    fast.conv2d(x, np.ones((4, 8, 1, 1), np.float32))  # 1x1: a single product
    fast.conv2d(x.astype(np.float64), w.astype(np.float64), padding=1)  # float32 only
    assert calls == ["conv2d", "conv2d"]


def test_the_tiles_serve_many_output_channels_on_runs_of_32_or_more(monkeypatch):
    """The forward with a whole tile of output channels; the weight gradient whatever their
    number."""
    calls = spy_on_direct(monkeypatch)
    x = arrays(0, np.float32, (2, 8, 6, 6))[0]
    many = np.ones((32, 8, 3, 3), np.float32)  # 72 numbers a run, a whole tile of channels
    fast.conv2d_weight_grad(x, fast.conv2d(x, many, padding=1), many.shape, padding=1)
    fast.conv2d_weight_grad(x, np.ones((2, 5, 6, 6), np.float32), (5, 8, 3, 3), padding=1)
    assert calls == ["tiles.conv2d", "tiles.weight_grad", "tiles.weight_grad"]
    calls.clear()
    fast.conv2d(x, many[:31], padding=1)  # fewer channels than a tile
    fast.conv2d(x[:, :3], many[:, :3], padding=1)  # 27 numbers a run
    fast.conv2d_weight_grad(x[:, :3], np.ones((2, 32, 6, 6), np.float32), (32, 3, 3, 3), padding=1)
    fast.conv2d(x.astype(np.float64), many.astype(np.float64), padding=1)  # float32 only
    assert not [call for call in calls if call.startswith("tiles.")]


def test_the_direct_loop_serves_input_gradients_of_three_channels_or_more(monkeypatch):
    """Whatever the length of the adjoint's dot products (here 5 x 9 = 45 numbers)."""
    calls = spy_on_direct(monkeypatch)
    w = np.ones((5, 8, 3, 3), np.float32)
    grad_out = np.ones((2, 5, 6, 6), np.float32)
    fast.conv2d_input_grad(grad_out, w, (2, 8, 6, 6), padding=1)
    assert calls == ["input_grad", "conv2d"]  # the forward loop on the adjoint
    fast.conv2d_input_grad(grad_out, w[:, :2], (2, 2, 6, 6), padding=1)  # two channels
    fast.conv2d_input_grad(grad_out[:, :, ::2, ::2], w, (2, 8, 6, 6), stride=2, padding=1)
    assert calls == ["input_grad", "conv2d"]
    calls.clear()  # 32 input channels: the adjoint has a whole tile of outputs
    fast.conv2d_input_grad(grad_out, np.ones((5, 32, 3, 3), np.float32), (2, 32, 6, 6), padding=1)
    assert calls == ["input_grad", "tiles.conv2d"]


# (dtype, output channels, the loop that serves them)
LOOPS = [(np.float32, 4, ""), (np.float64, 4, ""), (np.float32, 32, "tiles.")]


@pytest.mark.parametrize("dtype, channels, loop", LOOPS)
def test_the_direct_loops_propagate_nan_and_infinity(dtype, channels, loop, monkeypatch):
    """Their fastmath reassociates sums (the tiles' spare channels multiply zero weights) but
    does not assume finite numbers: a NaN or infinity in the input reaches exactly the outputs
    whose window covers it."""
    monkeypatch.setattr(fast, "DIRECT_DTYPES", (dtype,))
    calls = spy_on_direct(monkeypatch)
    x, w = arrays(0, dtype, (1, 8, 6, 6), (channels, 8, 3, 3))
    x[0, 3, 2, 2], x[0, 5, 4, 4] = np.nan, np.inf
    out = fast.conv2d(x, np.abs(w), padding=1)
    near_nan = np.zeros((6, 6), bool)
    near_nan[1:4, 1:4] = True
    np.testing.assert_array_equal(np.isnan(out[0]), np.broadcast_to(near_nan, (channels, 6, 6)))
    assert np.isinf(out[0, :, 5, 5]).all() and np.isfinite(out[0, :, 0, 0]).all()
    assert calls == [loop + "conv2d"]


@pytest.mark.parametrize("channels", [3, 32])  # a spare channel in the tile, and none
def test_a_column_no_window_reads_stays_out_of_the_weight_gradient(channels, monkeypatch):
    """At stride 2 the last image column of x (8 wide, k=3: windows cover columns 0-6) is
    read by no output pixel, only by the spare pixel that completes the last block of 4. An
    infinity there must not reach the weight gradient as 0 x inf = NaN."""
    x, w = arrays(0, np.float32, (2, 8, 6, 8), (channels, 8, 3, 3))
    (grad_out,) = arrays(1, np.float32, (2, channels, 2, 3))
    expected = ref.conv2d_weight_grad_reference(x, grad_out, w.shape, 2, 0)
    x[..., 7] = np.inf
    calls = spy_on_direct(monkeypatch)
    close(fast.conv2d_weight_grad(x, grad_out, w.shape, 2, 0), expected, np.float32)
    assert calls == ["tiles.weight_grad"]


@pytest.mark.parametrize("channels", [3, 32])
def test_an_infinity_reaches_only_the_weight_gradients_it_is_in(channels, monkeypatch):
    """At stride 1 on a 7-wide image, k=3: the spare pixels of the last block read columns
    5 and 6, which real pixels read only at later taps. Where the true gradient stays finite,
    so must ours."""
    x, w = arrays(2, np.float32, (2, 8, 5, 7), (channels, 8, 3, 3))
    (grad_out,) = arrays(3, np.float32, (2, channels, 3, 5))
    x[0, 2, 1, 5] = np.inf
    expected = ref.conv2d_weight_grad_reference(x, grad_out, w.shape, 1, 0)
    calls = spy_on_direct(monkeypatch)
    ours = fast.conv2d_weight_grad(x, grad_out, w.shape, 1, 0)
    assert calls == ["tiles.weight_grad"]
    assert not np.isfinite(expected).all() and np.isfinite(expected[..., 0]).all()
    np.testing.assert_array_equal(np.isfinite(ours), np.isfinite(expected))
    finite = np.isfinite(expected)
    close(ours[finite], expected[finite], np.float32)
