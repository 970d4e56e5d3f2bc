"""Every layer's gradients (inputs and parameters, float64), and the properties layers promise."""

import numpy as np
import pytest

import autodiff as ad
from scratchgen import nn
from scratchgen.testing import module_gradcheck

rng = np.random.default_rng(0)


def normal(*shape):
    return rng.standard_normal(shape)


LAYERS = {
    "Linear": (lambda r: nn.Linear(3, 4, rng=r), [normal(2, 3)]),
    "Linear on a stack": (lambda r: nn.Linear(3, 4, rng=r), [normal(2, 2, 3)]),
    "Linear on a vector": (lambda r: nn.Linear(3, 4, rng=r), [normal(3)]),
    "Conv2d": (lambda r: nn.Conv2d(2, 3, 3, stride=2, padding=1, rng=r), [normal(2, 2, 5, 5)]),
    "ConvTranspose2d": (lambda r: nn.ConvTranspose2d(2, 3, 4, stride=2, padding=1, rng=r),
                        [normal(1, 2, 3, 3)]),
    "CausalConv1d": (lambda r: nn.CausalConv1d(2, 3, 2, dilation=2, rng=r), [normal(2, 2, 7)]),
    "MaskedConv2d": (lambda r: nn.MaskedConv2d(3, 6, 3, "B", color_groups=3, rng=r),
                     [normal(1, 3, 4, 4)]),
    "Embedding": (lambda r: nn.Embedding(5, 3, rng=r), [np.array([[0, 4], [4, 2]])]),
    "LayerNorm": (lambda r: nn.LayerNorm(4), [normal(3, 4)]),
    "GroupNorm": (lambda r: nn.GroupNorm(2, 4), [normal(2, 4, 3)]),
    "MultiheadAttention": (lambda r: nn.MultiheadAttention(4, 2, rng=r), [normal(2, 3, 4)]),
    "TransformerBlock": (lambda r: nn.TransformerBlock(4, 2, mlp_ratio=2, causal=True, rng=r),
                         [normal(1, 3, 4)]),
    "MLP": (lambda r: nn.MLP([3, 5, 2], nn.SiLU, rng=r), [normal(4, 3)]),
    "ResidualBlock": (lambda r: nn.ResidualBlock(2, 3, rng=r), [normal(1, 2, 4, 4)]),
}  # fmt: skip
ACTIVATIONS = [nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Softplus, nn.Tanh, nn.Sigmoid]


@pytest.mark.parametrize("name", LAYERS)
def test_layer_gradients_first_order(name):
    build, inputs = LAYERS[name]
    assert module_gradcheck(build(np.random.default_rng(1)), *inputs)


@pytest.mark.parametrize("name", ["Linear", "Linear on a stack", "Conv2d", "LayerNorm",
                                  "MultiheadAttention"])  # fmt: skip
def test_layer_gradients_second_order(name):
    build, inputs = LAYERS[name]
    assert module_gradcheck(build(np.random.default_rng(1)), *inputs, second_order=True)


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: a.__name__)
def test_activation_gradients(activation):
    x = normal(3, 4)
    x[np.abs(x) < 0.1] += 0.3  # away from the kinks of relu, leaky relu and elu
    assert module_gradcheck(activation(), x, second_order=True)


def test_layers_keep_float32():
    r = np.random.default_rng(0)
    x = normal(2, 3, 4).astype(np.float32)
    block = nn.TransformerBlock(4, 2, rng=r)
    assert block(x).dtype == np.float32
    for p in block.parameters():
        assert p.dtype == np.float32


def _dependence(layer, shape, out_index):
    """Which inputs one output element depends on: its gradient, nonzero pattern."""
    x = ad.Tensor(np.random.default_rng(2).standard_normal(shape), requires_grad=True)
    (g,) = ad.grad(layer(x)[out_index], x)
    return g.data != 0


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_masked_conv_sees_only_earlier_pixels(mask_type):
    """Grey image: the output at (i, j) depends on pixels before (i, j) in raster order, and on
    (i, j) itself only under mask B."""
    r = np.random.default_rng(0)
    stack = nn.Sequential(nn.MaskedConv2d(1, 4, 5, mask_type, rng=r),
                          nn.MaskedConv2d(4, 1, 3, "B", rng=r)).to(np.float64)  # fmt: skip
    i, j = 3, 2
    seen = _dependence(stack, (1, 1, 6, 6), (0, 0, i, j))[0, 0]
    order = np.arange(36).reshape(6, 6)
    assert not seen[order > order[i, j]].any()
    assert seen[i, j] == (mask_type == "B")
    assert seen[order < order[i, j]].any()


def test_rectangular_masked_kernels_keep_the_ordering():
    layer = nn.MaskedConv2d(1, 1, (3, 5), "A", rng=np.random.default_rng(0)).to(np.float64)
    assert layer.weight.shape == (1, 1, 3, 5)
    seen = _dependence(layer, (1, 1, 6, 6), (0, 0, 3, 3))[0, 0]
    order = np.arange(36).reshape(6, 6)
    assert not seen[order >= order[3, 3]].any() and seen[3, 1] and seen[2, 5]


def test_masked_conv_colour_groups_follow_r_g_b():
    """At its own pixel, output colour g sees input colours h < g (mask A)."""
    layer = nn.MaskedConv2d(3, 3, 3, "A", color_groups=3, rng=np.random.default_rng(0))
    layer.to(np.float64)
    for g in range(3):
        seen = _dependence(layer, (1, 3, 4, 4), (0, g, 1, 1))[0, :, 1, 1]
        assert list(seen) == [h < g for h in range(3)]


def test_causal_conv_and_causal_attention_do_not_look_ahead():
    r = np.random.default_rng(0)
    conv = nn.CausalConv1d(2, 2, 3, dilation=2, rng=r).to(np.float64)
    seen = _dependence(conv, (1, 2, 10), (0, 1, 5))[0]
    assert not seen[:, 6:].any() and seen[:, 5].any()
    assert seen[:, 1].any() and not seen[:, :1].any()  # receptive field (3 - 1) * 2 + 1 = 5
    block = nn.TransformerBlock(4, 2, causal=True, rng=r).to(np.float64)
    seen = _dependence(block, (1, 6, 4), (0, 3, 0))[0]
    assert not seen[4:].any() and seen[:4].any()


def test_dropout_keeps_the_mean_and_is_off_in_eval():
    """Each element survives with probability 0.7, scaled by 1/0.7. With 10^6 ones the mean is
    1 with standard error sqrt(0.3/0.7)/1000 = 6.5e-4; the bound 5e-3 is 7.6 standard errors
    (a false failure less than once in 10^13)."""
    layer = nn.Dropout(0.3, rng=np.random.default_rng(0))
    out = layer(np.ones(1_000_000)).data
    assert abs(out.mean() - 1.0) < 5e-3
    assert abs((out == 0).mean() - 0.3) < 5e-3
    layer.eval()
    np.testing.assert_array_equal(layer(np.ones(5)).data, np.ones(5))


def test_sinusoidal_embedding_formula():
    e = nn.sinusoidal_embedding(np.array([0.0, 2.5]), 8).data
    i = np.arange(4)
    expected = np.concatenate([np.sin(2.5 / 10_000 ** (i / 4)), np.cos(2.5 / 10_000 ** (i / 4))])
    np.testing.assert_allclose(e[1], expected, rtol=1e-6)
    np.testing.assert_array_equal(e[0], [0, 0, 0, 0, 1, 1, 1, 1])


def test_cross_attention_takes_a_context_of_another_length():
    layer = nn.MultiheadAttention(8, 2, kdim=5, vdim=5, rng=np.random.default_rng(0))
    assert layer(normal(2, 3, 8), normal(2, 7, 5)).shape == (2, 3, 8)


def test_class_embedding_null_class_is_its_own_vector_or_zero():
    e = nn.ClassEmbedding(3, 4, rng=np.random.default_rng(0), dtype=np.float64)
    e.null.data[...] = 7.0
    out = e(np.array([0, 3, 2]), 3)
    np.testing.assert_array_equal(out.data[0], e.table.weight.data[0])
    np.testing.assert_array_equal(out.data[1], np.full(4, 7.0))
    np.testing.assert_array_equal(e(None, 2).data, np.full((2, 4), 7.0))
    out.sum().backward()
    # only the one null label reaches the null vector, and label 0 reaches row 0 once
    np.testing.assert_array_equal(e.null.grad, np.ones(4))
    np.testing.assert_array_equal(e.table.weight.grad[0], np.ones(4))
    fixed = nn.ClassEmbedding(3, 4, learned_null=False, rng=np.random.default_rng(0))
    assert fixed.null is None and not fixed(None, 2).data.any()
    with pytest.raises(ValueError, match="Net: labels run from 0 to 2, and 3 is the null class"):
        nn.ClassEmbedding(3, 4, rng=np.random.default_rng(0), owner="Net")(np.array([4]), 1)
    with pytest.raises(ValueError, match="labels must be 2 integers"):
        e(np.array([0.5, 1.0]), 2)


def test_layer_errors_are_one_line():
    r = np.random.default_rng(0)
    with pytest.raises(ValueError, match="not divisible by num_heads"):
        nn.MultiheadAttention(6, 4, rng=r)
    with pytest.raises(ValueError, match="odd kernel size, got 3x4"):
        nn.MaskedConv2d(1, 2, (3, 4), "A", rng=r)
    with pytest.raises(ValueError, match="mask_type must be 'A' or 'B'"):
        nn.MaskedConv2d(1, 2, 3, "C", rng=r)
    with pytest.raises(ValueError, match=r"input of shape \(2, 5\) has 5 features but weight"):
        nn.Linear(3, 2, rng=r)(np.ones((2, 5)))
    with pytest.raises(IndexError, match="there are 5 embeddings"):
        nn.Embedding(5, 2, rng=r)(np.array([5]))


SPECTRAL = {
    "Linear": (lambda r: nn.Linear(6, 4, rng=r), lambda w: w),
    "Conv2d": (lambda r: nn.Conv2d(3, 5, 3, rng=r), lambda w: w.reshape(5, -1)),
    # ConvTranspose2d's weight is (in, out, kh, kw): its outputs are axis 1, as in PyTorch
    "ConvTranspose2d": (lambda r: nn.ConvTranspose2d(4, 3, 4, rng=r),
                        lambda w: w.transpose(1, 0, 2, 3).reshape(3, -1)),
}  # fmt: skip


@pytest.mark.parametrize("name", SPECTRAL)
def test_spectral_norm_estimates_the_largest_singular_value(name):
    build, as_matrix = SPECTRAL[name]
    wrapped = nn.SpectralNorm(build(np.random.default_rng(2)), rng=np.random.default_rng(3))
    matrix = as_matrix(wrapped.layer.weight.data.astype(np.float64))
    singular = np.linalg.svd(matrix, compute_uv=False)
    # each training pass is one power iteration; its error falls as (s_2 / s_1)^(2k), and the
    # gap of a random weight can be small (0.67 against 0.74 for the Linear)
    for _ in range(500):
        wrapped._power_iteration()
    assert wrapped.sigma().item() == pytest.approx(singular[0], rel=1e-5)
    normalised = matrix / wrapped.sigma().item()
    assert np.linalg.svd(normalised, compute_uv=False)[0] == pytest.approx(1.0, rel=1e-5)


def test_spectral_norm_iterates_in_training_only_and_keeps_its_vectors():
    wrapped = nn.SpectralNorm(nn.Linear(6, 4, rng=np.random.default_rng(2)),
                              rng=np.random.default_rng(3))  # fmt: skip
    x = normal(2, 6).astype(np.float32)
    u0 = wrapped.u.copy()
    wrapped(x)
    assert not np.array_equal(wrapped.u, u0)  # one power iteration
    assert {"u", "v", "layer.weight", "layer.bias"} <= set(wrapped.state_dict())
    wrapped.eval()
    u1 = wrapped.u.copy()
    first, second = wrapped(x), wrapped(x)
    np.testing.assert_array_equal(wrapped.u, u1)
    np.testing.assert_array_equal(first.data, second.data)
    w = wrapped.layer.weight.data
    expected = x @ (w / (wrapped.u @ w @ wrapped.v)).T + wrapped.layer.bias.data
    np.testing.assert_allclose(first.data, expected, rtol=1e-5)
    assert isinstance(wrapped.layer.weight, nn.Parameter)  # lent W / sigma, then given back


@pytest.mark.parametrize("name", ["Linear", "Conv2d"])
def test_spectral_norm_gradients(name):
    """With u and v held (eval mode), W / (u^T W v) to first and second order."""
    build, inputs = LAYERS[name]
    wrapped = nn.SpectralNorm(build(np.random.default_rng(1)), rng=np.random.default_rng(4))
    assert module_gradcheck(wrapped.eval(), *inputs, second_order=True)
