"""Second and higher derivatives, against closed forms (not only finite differences)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad

floats = st.floats(-3, 3, allow_nan=False)


@given(x0=floats)
def test_second_derivative_of_cube_is_6x(x0):
    x = ad.Tensor(x0, requires_grad=True)
    (d1,) = ad.grad(x**3, x, create_graph=True)
    (d2,) = ad.grad(d1, x)
    assert d1.item() == pytest.approx(3 * x0**2)
    assert d2.item() == pytest.approx(6 * x0, abs=1e-12)


@given(x0=floats)
def test_derivatives_of_sin_cycle(x0):
    x = ad.Tensor(x0, requires_grad=True)
    y, expected = ad.sin(x), [np.cos(x0), -np.sin(x0), -np.cos(x0), np.sin(x0)]
    for value in expected:
        (y,) = ad.grad(y, x, create_graph=True)
        assert y.item() == pytest.approx(value, abs=1e-12)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 6))
def test_hessian_vector_product_of_a_quadratic_form(seed, n):
    """f(x) = x^T A x has Hessian A + A^T; H v from double backward must equal it exactly."""
    rng = np.random.default_rng(seed)
    A, x0, v = rng.standard_normal((n, n)), rng.standard_normal(n), rng.standard_normal(n)
    x = ad.Tensor(x0, requires_grad=True)
    (g,) = ad.grad(x @ (ad.Tensor(A) @ x), x, create_graph=True)
    (hv,) = ad.grad((g * v).sum(), x)
    np.testing.assert_allclose(hv.data, (A + A.T) @ v, rtol=1e-12, atol=1e-12)


def test_gradient_penalty_of_a_two_layer_critic():
    """WGAN-GP's penalty (||grad_x D(x)|| - 1)^2 differentiated with respect to the weights."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3))
    params = [rng.standard_normal((3, 4)), rng.standard_normal((4, 1))]

    def penalty(W1, W2):
        xt = ad.Tensor(x, requires_grad=True)
        critic = (ad.tanh(xt @ W1) @ W2).sum()
        (gx,) = ad.grad(critic, xt, create_graph=True)
        norms = ad.sqrt((gx * gx).sum(axis=1))
        return ((norms - 1.0) ** 2).mean()

    assert ad.gradcheck(penalty, params)


def test_jacobian_trace_of_a_linear_map_is_its_trace():
    """Exact score matching needs tr(d s / d x); for s(x) = A x it is tr(A)."""
    rng = np.random.default_rng(1)
    A = rng.standard_normal((4, 4))
    x = ad.Tensor(rng.standard_normal(4), requires_grad=True)
    s = ad.Tensor(A) @ x
    trace = sum(ad.grad(s[i], x, retain_graph=True)[0].data[i] for i in range(4))
    assert trace == pytest.approx(np.trace(A))


def test_hutchinson_trace_estimate_is_unbiased():
    """E[v^T J v] = tr(J) for Rademacher v; the mean of 4000 probes lands within 5 standard
    errors (a false failure about once in 3 million runs)."""
    rng = np.random.default_rng(2)
    A = rng.standard_normal((5, 5))
    x = ad.Tensor(rng.standard_normal(5), requires_grad=True)
    s = ad.tanh(ad.Tensor(A) @ x)
    J = (1 - np.tanh(A @ x.data) ** 2)[:, None] * A
    probes = []
    for _ in range(4000):
        v = rng.choice([-1.0, 1.0], 5)
        (vjp,) = ad.grad(s, x, grad_outputs=v, retain_graph=True)
        probes.append(vjp.data @ v)
    standard_error = np.std(probes) / np.sqrt(len(probes))
    assert abs(np.mean(probes) - np.trace(J)) < 5 * standard_error


def test_backward_with_create_graph_gives_differentiable_grad():
    x = ad.Tensor(2.0, requires_grad=True)
    (x**4).backward(create_graph=True)
    first = x.grad  # 4x^3 = 32, still in a graph
    assert first.requires_grad and first.item() == pytest.approx(32.0)
    (d2,) = ad.grad(first, x)
    assert d2.item() == pytest.approx(12 * 2.0**2)


def test_logsumexp_hessian_is_diag_p_minus_ppT():
    rng = np.random.default_rng(3)
    x0 = rng.standard_normal(4)
    x = ad.Tensor(x0, requires_grad=True)
    (g,) = ad.grad(ad.logsumexp(x), x, create_graph=True)
    H = np.stack([ad.grad(g[i], x, retain_graph=True)[0].data for i in range(4)])
    p = np.exp(x0 - np.log(np.exp(x0).sum()))
    np.testing.assert_allclose(H, np.diag(p) - np.outer(p, p), atol=1e-12)
