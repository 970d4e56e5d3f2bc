"""The rational-quadratic spline (Durkan et al. 2019): monotone, its inverse exact, its
log-derivative that of finite differences, continuous at the knots and the tails, the identity
outside [-B, B], and the paper's parametrisation (K widths and heights, K - 1 derivatives)."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import autodiff as ad
from scratchgen.bijections import rational_quadratic_spline as spline
from scratchgen.bijections.spline import _knots


def parameters(seed: int, K: int, n: int = 200, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    return (scale * rng.standard_normal((n, K)), scale * rng.standard_normal((n, K)),
            scale * rng.standard_normal((n, K - 1)))  # fmt: skip


@given(st.integers(1, 12), st.floats(0.5, 5.0), st.integers(0, 10**6))
@example(K=4, B=2.0, seed=6214)  # slopes near e^-11.7, where the difference's roundoff shows
def test_the_spline_is_monotone_exactly_invertible_and_its_log_derivative_is_right(K, B, seed):
    w, h, d = (p[:1].repeat(400, 0) for p in parameters(seed, K, 1, 2.0))
    x = np.linspace(-B - 1, B + 1, 400)
    y, logabsdet = (t.data for t in spline(x, w, h, d, tail_bound=B))
    assert np.all(np.diff(y) > 0)
    back, inverse_logabsdet = (t.data for t in spline(y, w, h, d, inverse=True, tail_bound=B))
    np.testing.assert_allclose(back, x, atol=1e-10)
    np.testing.assert_allclose(inverse_logabsdet, -logabsdet, atol=1e-8)
    # the second derivative jumps at the knots, where a central difference is only O(eps)
    knots = _knots(ad.Tensor(w[0]), B, 1e-3).data
    smooth = np.min(np.abs(x[:, None] - knots[None, :]), axis=1) > 1e-3
    eps = 1e-6
    up, down = (spline(x + s, w, h, d, tail_bound=B)[0].data for s in (eps, -eps))
    # up - down carries a roundoff of a few ulps of y: relative to the slope, that is
    # ~ eps_64 |y| / (eps y'), which dominates where the spline is nearly flat
    roundoff = 8 * np.finfo(np.float64).eps * np.maximum(1, np.abs(y)) / (eps * np.exp(logabsdet))
    error = np.abs(np.log((up - down) / (2 * eps)) - logabsdet)
    assert np.all((error < 1e-5 + roundoff)[smooth]), np.max((error - roundoff)[smooth])


def test_inputs_entirely_in_the_tails_pass_through_with_zero_log_derivative():
    w, h, d = parameters(0, 6, 100, 3.0)
    x = np.concatenate([np.linspace(-50, -3.0001, 50), np.linspace(3.0001, 50, 50)])
    for inverse in (False, True):
        y, logabsdet = spline(x, w, h, d, inverse=inverse)
        np.testing.assert_array_equal(y.data, x)
        np.testing.assert_array_equal(logabsdet.data, 0)


def test_the_spline_maps_the_interval_onto_itself_with_unit_slope_at_its_ends():
    w, h, d = parameters(1, 5, 3)
    B = 2.0
    for edge in (-B, B):
        x = np.full(3, edge)
        y, logabsdet = spline(x, w, h, d, tail_bound=B)
        np.testing.assert_allclose(y.data, edge, atol=1e-12)
        np.testing.assert_allclose(logabsdet.data, 0, atol=1e-9)  # d^0 = d^K = 1


def test_the_gradients_reach_every_parameter_and_match_finite_differences():
    w, h, d = parameters(2, 4, 5)
    x = np.random.default_rng(2).uniform(-3.5, 3.5, 5)

    def f(x, w, h, d):
        y, logabsdet = spline(x, w, h, d)
        return ad.sum(y) + ad.sum(logabsdet)

    ad.gradcheck(f, [x, w, h, d])
    ad.gradcheck(lambda x, w, h, d: ad.sum(spline(x, w, h, d, inverse=True)[0]), [x, w, h, d])


def test_the_spline_refuses_parameters_of_the_wrong_sizes():
    w, h, d = parameters(3, 4, 2)
    with pytest.raises(ValueError, match="K - 1"):
        spline(np.zeros(2), w, h, w)
    with pytest.raises(ValueError, match="too large"):
        spline(np.zeros(2), w, h, d, min_bin_width=0.3)
