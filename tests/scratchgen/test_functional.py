"""scratchgen.nn.functional: gradients to second order, the two attention paths agree,
errors are one line."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff as ad
from scratchgen.nn import functional as F
from tests.kernels.test_conv import conv_geometries, transposed_args, transposed_geometries

rng = np.random.default_rng(0)


def normal(*shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


@settings(max_examples=10)
@given(geo=conv_geometries(), with_bias=st.booleans())
def test_conv2d_gradients_first_and_second_order(geo, with_bias):
    x, w = normal(*geo["x_shape"]), normal(*geo["w_shape"])
    inputs = [x, w] + ([normal(geo["w_shape"][0])] if with_bias else [])

    def f(x, w, *bias):
        return F.conv2d(x, w, bias[0] if bias else None, geo["stride"], geo["padding"],
                        geo["dilation"], geo["groups"])  # fmt: skip

    assert ad.gradcheck(f, inputs) and ad.gradgradcheck(f, inputs)


def test_conv_transpose2d_gradients_first_and_second_order():
    def f(x, w, b):
        return F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=2,
                                  dilation=(1, 2))  # fmt: skip

    inputs = [normal(2, 4, 3, 3), normal(4, 3, 3, 2), normal(6)]
    assert f(*inputs).shape == (2, 6, 6, 6)
    assert ad.gradcheck(f, inputs) and ad.gradgradcheck(f, inputs)


@settings(max_examples=10)
@given(geo=transposed_geometries())
def test_conv_transpose2d_gradients_for_every_admitted_output_padding(geo):
    """output_padding below the stride or the dilation (PyTorch's rule): both gradients and
    their own gradients against finite differences."""
    stride, padding, output_padding, dilation, groups = transposed_args(geo)

    def f(x, w):
        return F.conv_transpose2d(x, w, None, stride, padding, output_padding, groups, dilation)

    inputs = [normal(*geo["x_shape"]), normal(*geo["w_shape"])]
    assert ad.gradcheck(f, inputs) and ad.gradgradcheck(f, inputs)


@pytest.mark.parametrize("padding", [(4, 0), 1, "same", "valid"])
def test_conv1d_gradients_first_and_second_order(padding):
    def f(x, w):
        return F.conv1d(x, w, padding=padding, dilation=2)

    inputs = [normal(2, 3, 9), normal(4, 3, 3)]
    assert ad.gradcheck(f, inputs) and ad.gradgradcheck(f, inputs)


@pytest.mark.parametrize("slope", [0.2, 0.0, 1.5, -0.5])
def test_leaky_relu_is_its_definition_for_any_slope(slope):
    x = normal(4, 5)
    x[np.abs(x) < 0.1] += 0.3  # away from the kink
    np.testing.assert_array_equal(F.leaky_relu(x, slope).data, np.where(x > 0, x, slope * x))
    assert ad.gradcheck(lambda t: F.leaky_relu(t, slope), [x])
    assert ad.gradgradcheck(lambda t: F.leaky_relu(t, slope), [x])
    assert F.leaky_relu(x.astype(np.float32), slope).dtype == np.float32


def test_padding_same_keeps_the_size():
    x = normal(1, 2, 7, 6)
    assert F.conv2d(x, normal(3, 2, 4, 3), padding="same", dilation=2).shape == (1, 3, 7, 6)
    assert F.conv1d(x[:, :, 0], normal(3, 2, 4), padding="same").shape == (1, 3, 6)


ATTENTION_CASES = {
    "plain": dict(),
    "causal": dict(is_causal=True),
    "key_padding": dict(attn_mask=np.array([True, True, False, True, True, False, True])),
    "dead_rows": dict(attn_mask=np.arange(7)[None, :] < np.array([0, 2, 7, 1, 3])[:, None]),
    "float_mask": dict(attn_mask=normal(5, 7)),
    "scale": dict(scale=0.3),
}


@pytest.mark.parametrize("case", ATTENTION_CASES, ids=str)
def test_attention_gradients_first_and_second_order(case):
    kwargs = ATTENTION_CASES[case]

    def f(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, **kwargs)

    inputs = [normal(2, 3, 5, 4), normal(2, 3, 7, 4), normal(2, 3, 7, 2)]  # cross-attention
    assert ad.gradcheck(f, inputs) and ad.gradgradcheck(f, inputs)


def test_fused_and_composite_attention_backward_agree():
    """create_graph=False runs the fused kernel, create_graph=True the composite path."""
    q, k, v = (ad.Tensor(normal(2, 2, 6, 4), requires_grad=True) for _ in range(3))
    g = normal(2, 2, 6, 4)
    mask = np.tril(np.ones((6, 6), bool))[None, None] & (rng.random((2, 1, 1, 6)) < 0.8)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    fused = ad.grad(out, [q, k, v], g, retain_graph=True)
    composite = ad.grad(out, [q, k, v], g, create_graph=True)
    assert all(c.requires_grad for c in composite)
    for a, b in zip(fused, composite):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-10, atol=1e-12)


def test_attention_accepts_any_batch_shape():
    q, k, v = normal(5, 4), normal(7, 4), normal(7, 3)
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert out.shape == (5, 3)
    q3 = normal(2, 3, 2, 5, 4)
    assert F.scaled_dot_product_attention(q3, q3, q3).shape == (2, 3, 2, 5, 4)


def test_causal_attention_does_not_look_ahead():
    x = normal(1, 1, 8, 4)
    out = F.scaled_dot_product_attention(x, x, x, is_causal=True).data
    x[..., 5:, :] += 1.0
    changed = F.scaled_dot_product_attention(x, x, x, is_causal=True).data
    np.testing.assert_array_equal(out[..., :5, :], changed[..., :5, :])


def test_float32_stays_float32_through_forward_and_backward():
    x = ad.Tensor(normal(2, 3, 8, 8, dtype=np.float32), requires_grad=True)
    w = ad.Tensor(normal(4, 3, 3, 3, dtype=np.float32), requires_grad=True)
    h = F.conv2d(x, w, padding=1)
    seq = ad.reshape(h, (2, 4, 64, 1)) * np.ones(4, np.float32)
    out = F.scaled_dot_product_attention(seq, seq, seq, is_causal=True)
    assert h.dtype == np.float32 and out.dtype == np.float32
    ad.sum(out).backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_gradient_penalty_of_a_convolutional_critic():
    """WGAN-GP: the penalty (||grad_x D(x)|| - 1)^2 is differentiated with respect to the
    weights, which needs the derivative of conv2d's input gradient."""
    x = normal(3, 1, 6, 6)

    def penalty(w1, w2):
        xt = ad.Tensor(x, requires_grad=True)
        critic = ad.sum(F.conv2d(ad.tanh(F.conv2d(xt, w1, padding=1)), w2, stride=2))
        (grad_x,) = ad.grad(critic, xt, create_graph=True)
        norms = ad.sqrt(ad.sum(grad_x * grad_x, axis=(1, 2, 3)))
        return ad.mean((norms - 1.0) ** 2)

    assert ad.gradcheck(penalty, [normal(2, 1, 3, 3), normal(1, 2, 2, 2)])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: F.conv2d(normal(8, 3, 28, 28), normal(16, 1, 3, 3)),
         r"conv2d: input has 3 channels but weight expects 1 \(input \(8, 3, 28, 28\)"),
        (lambda: F.conv2d(normal(3, 28, 28), normal(16, 3, 3, 3)),
         r"expected input \(N, C, H, W\)"),
        (lambda: F.conv2d(normal(1, 1, 2, 2), normal(1, 1, 3, 3)), "larger than the padded input"),
        (lambda: F.conv2d(normal(1, 1, 4, 4), normal(1, 1, 3, 3), stride=2, padding="same"),
         "padding='same' needs stride 1"),
        (lambda: F.conv2d(normal(1, 1, 4, 4), normal(2, 1, 3, 3), bias=np.zeros(3)),
         r"bias of shape \(3,\) does not match 2 channels"),
        (lambda: F.conv1d(normal(1, 4, 4), normal(2, 1, 3)), "input has 4 channels"),
        (lambda: F.scaled_dot_product_attention(normal(1, 5, 4), normal(1, 7, 4), normal(1, 7, 4),
                                                attn_mask=np.ones((5, 6), bool)),
         r"attn_mask of shape \(5, 6\) does not broadcast"),
        (lambda: F.scaled_dot_product_attention(normal(5, 4), normal(7, 3), normal(7, 4)),
         "disagree"),
        (lambda: F.scaled_dot_product_attention(normal(5, 4), normal(5, 4), normal(5, 4),
                                                dropout_p=0.1), "dropout_p must be 0"),
    ],
)  # fmt: skip
def test_bad_arguments_give_one_line_errors(call, message):
    with pytest.raises(ValueError, match=message) as error:
        call()
    assert "\n" not in str(error.value)


def test_nearest_upsampling_repeats_pixels_and_sums_gradients_over_blocks():
    x = normal(2, 3, 2, 4)
    np.testing.assert_array_equal(F.interpolate(x, 3).data, x.repeat(3, axis=2).repeat(3, axis=3))
    assert ad.gradcheck(lambda t: F.interpolate(t, 2), [x])
    assert ad.gradgradcheck(lambda t: F.interpolate(t, 3), [x])
    with pytest.raises(ValueError, match="nearest"):
        F.interpolate(x, 2, mode="bilinear")
