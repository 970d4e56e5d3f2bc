"""The flow layers: both round trips exact, both log-dets equal to the numerical Jacobian's
(which catches a log-det of the wrong sign in both directions, as round trips cannot), the
spline's properties, ActNorm's start, the LU log-det, MAF against IAF, and the continuous
flow's trace estimator, solvers and adjoint."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad
from scratchgen import bijections as B
from scratchgen.testing import assert_bijection, numerical_log_abs_det

F64 = np.float64
# random parameters' scale: at 0.5 some spline bins get slopes near 1e-4, where finite
# differences of the inverse (slopes near 1e4) lose the digits the tests ask for
SCALE = {"additive": 0.5, "affine": 0.5, "spline": 0.2}


def randomized(module, seed: int, scale: float = 0.5):
    """The module with every parameter redrawn, so that no layer is tested at its identity
    start (zero-initialised conditioners)."""
    rng = np.random.default_rng(seed)
    for p in module.parameters():
        p.data[...] = scale * rng.standard_normal(p.data.shape)
    return module


def points(seed: int, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    return scale * np.random.default_rng(seed).standard_normal(shape)


def mlp(D: int, params: int, context: int = 0, seed: int = 0) -> B.MLPConditioner:
    return B.MLPConditioner(D, params * D, (8,), context, rng=np.random.default_rng(seed),
                            dtype=F64)  # fmt: skip


def conv(C: int, params: int, context: int = 0, seed: int = 0) -> B.ConvConditioner:
    return B.ConvConditioner(C, params * C, 4, 1, context, rng=np.random.default_rng(seed),
                             dtype=F64)  # fmt: skip


# ---------------------------------------------------------------- couplings on vectors
@given(st.integers(2, 6), st.integers(0, 1), st.sampled_from(["additive", "affine", "spline"]),
       st.sampled_from(["half", "alternate"]), st.integers(0, 10**6))  # fmt: skip
def test_vector_couplings_invert_and_have_the_jacobians_log_det(D, parity, kind, mask, seed):
    transform = {"additive": B.Additive(), "affine": B.Affine(),
                 "spline": B.RationalQuadratic(5, 2.0)}[kind]  # fmt: skip
    masks = {"half": B.half_mask, "alternate": B.alternate_mask}
    layer = randomized(B.Coupling(masks[mask](D, parity), mlp(D, transform.params, seed=seed),
                                  transform), seed, SCALE[kind])  # fmt: skip
    assert_bijection(layer, points(seed, (4, D), 1.5))


@given(st.sampled_from(["checkerboard", "channel"]), st.integers(0, 1), st.integers(0, 10**6))
def test_image_couplings_invert_and_have_the_jacobians_log_det(mask, parity, seed):
    shape = (2, 4, 4)
    make = {"checkerboard": B.checkerboard_mask, "channel": B.channel_mask}[mask]
    layer = randomized(B.AffineCoupling(make(shape, parity), conv(2, 2, seed=seed)), seed, 0.3)
    assert_bijection(layer, points(seed, (2, *shape)))


def test_the_masks_keep_what_they_say():
    assert B.half_mask(4).tolist() == [1, 1, 0, 0]
    assert B.alternate_mask(4, 1).tolist() == [0, 1, 0, 1]
    board = B.checkerboard_mask((1, 2, 2))
    assert board[0].tolist() == [[1, 0], [0, 1]]
    assert (B.checkerboard_mask((1, 2, 2), 1) == 1 - board).all()
    assert B.channel_mask((4, 1, 1))[:, 0, 0].tolist() == [1, 1, 0, 0]


def test_a_coupling_changes_only_the_dimensions_its_mask_leaves_out():
    layer = randomized(B.AffineCoupling(B.half_mask(4), mlp(4, 2)), 1)
    x = points(1, (3, 4))
    z, _ = layer(ad.Tensor(x))
    np.testing.assert_array_equal(z.data[:, :2], x[:, :2])
    assert not np.allclose(z.data[:, 2:], x[:, 2:])


def test_a_conditional_coupling_inverts_for_each_context_and_depends_on_it():
    layer = randomized(B.AffineCoupling(B.half_mask(4), mlp(4, 2, context=3)), 2)
    x = points(2, (3, 4))
    for label in range(3):
        assert_bijection(layer, x, context=np.eye(3)[[label] * 3])
    z0 = layer(ad.Tensor(x), np.eye(3)[[0] * 3])[0].data
    z1 = layer(ad.Tensor(x), np.eye(3)[[1] * 3])[0].data
    assert not np.allclose(z0, z1)


def test_image_conditioners_take_a_context_vector_or_image():
    layer = randomized(B.AffineCoupling(B.checkerboard_mask((1, 4, 4)), conv(1, 2, context=1)), 3)
    x = points(3, (2, 1, 4, 4))
    assert_bijection(layer, x, context=np.ones((2, 1)))
    assert_bijection(layer, x, context=points(4, (2, 1, 4, 4)))


# ---------------------------------------------------------------- autoregressive layers
@given(st.integers(2, 5), st.sampled_from(["affine", "spline"]), st.integers(0, 10**6))
def test_maf_and_iaf_layers_invert_and_have_the_jacobians_log_det(D, kind, seed):
    transform = B.Affine() if kind == "affine" else B.RationalQuadratic(4, 2.0)
    layer = randomized(B.MaskedAutoregressive(D, (12,), 2, transform,
                                              rng=np.random.default_rng(seed), dtype=F64),
                       seed, SCALE[kind])  # fmt: skip
    context = points(seed + 1, (3, 2))
    x = points(seed, (3, D))
    assert_bijection(layer, x, context)
    assert_bijection(B.Inverse(layer), x, context)


def test_maf_is_autoregressive_its_jacobian_is_lower_triangular():
    layer = randomized(B.MaskedAutoregressive(4, (16, 16), rng=np.random.default_rng(0),
                                              dtype=F64), 0)  # fmt: skip
    x = points(0, (1, 4))
    eps = 1e-6
    jac = np.empty((4, 4))
    for j in range(4):
        step = np.eye(4)[j] * eps
        up, down = (layer(ad.Tensor(x + s))[0].data[0] for s in (step, -step))
        jac[:, j] = (up - down) / (2 * eps)
    assert np.allclose(np.triu(jac, 1), 0)
    assert not np.allclose(np.tril(jac, -1), 0)


def test_maf_and_iaf_with_the_same_weights_are_inverses_of_each_other():
    maf = randomized(B.MaskedAutoregressive(5, (16,), rng=np.random.default_rng(1), dtype=F64), 1)
    iaf = B.Inverse(maf)
    x = points(1, (4, 5))
    with ad.no_grad():
        through_iaf, iaf_logdet = iaf(ad.Tensor(x))
        back, maf_logdet = maf(through_iaf)
    np.testing.assert_allclose(back.data, x, atol=1e-10)
    np.testing.assert_allclose(iaf_logdet.data + maf_logdet.data, 0, atol=1e-10)


# ---------------------------------------------------------------- Glow's layers
def test_actnorm_starts_with_zero_mean_and_unit_variance_per_channel():
    x = points(5, (64, 3, 4, 4)) * np.array([1.0, 5.0, 0.1])[:, None, None] + 3.0
    layer = B.ActNorm(3, F64)
    assert B.initialize_actnorm(layer, x) == 1
    z = layer(ad.Tensor(x))[0].data
    np.testing.assert_allclose(z.mean(axis=(0, 2, 3)), 0, atol=1e-10)
    np.testing.assert_allclose(z.std(axis=(0, 2, 3)), 1, atol=1e-4)
    assert B.initialize_actnorm(layer, x + 10) == 0  # initialised once, then learned
    assert_bijection(layer, points(6, (2, 3, 2, 2)))
    assert_bijection(randomized(B.ActNorm(4, F64), 7), points(7, (3, 4)))


@pytest.mark.parametrize("lu", [True, False])
def test_the_1x1_convolutions_log_det_is_hw_times_that_of_its_weight(lu):
    layer = randomized(B.InvertibleConv1x1(3, lu, rng=np.random.default_rng(2), dtype=F64), 2, 0.3)
    x = points(8, (2, 3, 2, 3))
    W = layer.matrix().data
    _, logdet = layer(ad.Tensor(x))
    np.testing.assert_allclose(logdet.data, 6 * np.linalg.slogdet(W)[1], rtol=1e-12)
    assert_bijection(layer, x)
    assert_bijection(layer, points(9, (4, 3)))  # vectors: a dense invertible layer


def test_squeeze_moves_each_2x2_block_into_channels():
    x = np.arange(2 * 1 * 4 * 4, dtype=float).reshape(2, 1, 4, 4)
    out = B.squeeze(ad.Tensor(x)).data
    assert out.shape == (2, 4, 2, 2)
    assert out[0, :, 0, 0].tolist() == [x[0, 0, 0, 0], x[0, 0, 0, 1], x[0, 0, 1, 0], x[0, 0, 1, 1]]
    np.testing.assert_array_equal(B.unsqueeze(ad.Tensor(out)).data, x)
    assert_bijection(B.Squeeze(), points(10, (2, 2, 4, 4)))
    with pytest.raises(ValueError, match="even"):
        B.squeeze(ad.Tensor(np.zeros((1, 1, 3, 4))))


def test_multi_scale_factors_out_half_and_inverts():
    inner = randomized(B.AffineCoupling(B.checkerboard_mask((2, 2, 2)), conv(2, 2, seed=1)), 11)
    steps = randomized(B.AffineCoupling(B.channel_mask((4, 2, 2)), conv(4, 2)), 12, 0.3)
    layer = B.MultiScale(steps, inner)
    x = points(13, (2, 1, 4, 4))
    assert_bijection(layer, x)
    # the factored-out half reaches the latent as the steps left it, untouched by the inner flow
    z = layer(ad.Tensor(x))[0].data
    kept = B.squeeze(ad.Tensor(z)).data[:, :2]
    np.testing.assert_allclose(kept, steps(B.squeeze(ad.Tensor(x)))[0].data[:, :2])


# ---------------------------------------------------------------- elementwise, permutations
def test_elementwise_layers_and_permutations():
    x01 = np.random.default_rng(14).uniform(0.01, 0.99, (3, 4))
    assert_bijection(B.Logit(0.05), x01)
    assert_bijection(B.Logit(0.0), x01)
    assert_bijection(B.Sigmoid(), points(14, (3, 4)))
    assert_bijection(randomized(B.ScaleDiagonal((4,), F64), 15), points(15, (3, 4)))
    assert_bijection(B.Permutation(np.array([2, 0, 3, 1])), points(16, (3, 4)))
    assert_bijection(B.Reverse(4), points(16, (3, 4)))
    assert_bijection(B.Reshape((1, 2, 2)), points(17, (3, 1, 2, 2)))
    with pytest.raises(ValueError, match="permutation"):
        B.Permutation(np.array([0, 0, 1]))
    with pytest.raises(ValueError, match="lambda"):
        B.Logit(0.5)


def test_compose_runs_in_order_and_sums_the_log_dets():
    couplings = [randomized(B.AffineCoupling(B.half_mask(4, i % 2), mlp(4, 2, seed=i)), i)
                 for i in range(3)]  # fmt: skip
    layers = couplings + [B.Reverse(4), randomized(B.ScaleDiagonal((4,), F64), 9)]
    flow = B.Compose(layers)
    x = points(18, (3, 4))
    assert_bijection(flow, x)
    h, total = ad.Tensor(x), 0
    for layer in layers:
        h, logdet = layer(h)
        total = total + logdet.data
    z, logdet = flow(ad.Tensor(x))
    np.testing.assert_allclose(z.data, h.data)
    np.testing.assert_allclose(logdet.data, total)


def test_a_log_det_of_the_wrong_sign_is_caught():
    class WrongSign(B.Bijection):  # exp(x), with the log-det negated in both directions
        def forward(self, x, context=None):
            return ad.exp(x), -B.per_example(x)

        def inverse(self, z, context=None):
            return ad.log(z), B.per_example(ad.log(z))

    with pytest.raises(AssertionError, match="log-det"):
        assert_bijection(WrongSign(), points(19, (2, 3)))


# ---------------------------------------------------------------- planar and radial
@pytest.mark.parametrize("kind", [B.Planar, B.Radial])
def test_planar_and_radial_log_dets_match_the_jacobian_and_refuse_to_invert(kind):
    for seed in range(3):
        layer = randomized(kind(3, context=2, rng=np.random.default_rng(seed), dtype=F64),
                           seed, 1.0)  # fmt: skip
        x, context = points(seed, (5, 3)), points(seed + 7, (5, 2))
        _, logdet = layer(ad.Tensor(x), context)

        def mapped(p, layer=layer, context=context):
            return layer(ad.Tensor(p), context)[0].data

        expected = numerical_log_abs_det(mapped, x)
        np.testing.assert_allclose(logdet.data, expected, atol=1e-6)
    with pytest.raises(B.NotInvertible, match="no closed-form inverse"):
        layer.inverse(ad.Tensor(x))


def test_planar_flows_stay_invertible_their_jacobian_never_vanishes():
    for seed in range(20):  # any u, w: w^T u_hat >= -1, so 1 + u_hat^T psi > 0 never crosses 0
        layer = randomized(B.Planar(2, rng=np.random.default_rng(seed), dtype=F64), seed, 3.0)
        grid = np.stack(np.meshgrid(*[np.linspace(-4, 4, 41)] * 2), -1).reshape(-1, 2)
        u, w, b = layer._parameters(None)
        wu = float((w * u).data.sum())
        u_hat = u.data + (np.log1p(np.exp(wu)) - 1 - wu) * w.data / (w.data**2).sum()
        assert float((w.data * u_hat).sum()) >= -1 - 1e-9
        assert np.isfinite(layer(ad.Tensor(grid))[1].data).all()


def test_push_forward_gives_the_density_of_the_pushed_samples():
    layer = randomized(B.Planar(1, rng=np.random.default_rng(3), dtype=F64), 3, 1.0)
    z0 = np.linspace(-3, 3, 2001)[:, None]
    log_q0 = -0.5 * z0[:, 0] ** 2 - 0.5 * np.log(2 * np.pi)
    zK, log_qK = B.push_forward(layer, ad.Tensor(z0), ad.Tensor(log_q0))
    # q_K integrates to (almost all of) the mass of q0 on the image of [-3, 3]
    mass = np.trapezoid(np.exp(log_qK.data), zK.data[:, 0])
    assert abs(mass - 0.9973) < 1e-3
