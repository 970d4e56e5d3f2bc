"""The continuous flow: Hutchinson's estimator unbiased for the trace, the exact-trace and
Hutchinson log-likelihoods equal in expectation, RK4 against scipy's adaptive solver, the two
directions inverse to each other, and the adjoint's gradients equal to backpropagation's."""

import numpy as np
import pytest

import autodiff as ad
from scratchgen import bijections as B
from scratchgen import traces
from scratchgen.testing import numerical_log_abs_det

# a mean of n draws differs from its expectation by more than Z standard errors with
# probability 1e-6 (two-sided, normal approximation; n is large)
Z = 4.89


def flow(steps: int = 12, seed: int = 0, **options) -> B.ContinuousFlow:
    rng = np.random.default_rng(seed)
    dynamics = B.Dynamics(2, (16,), rng=rng, dtype=np.float64)
    for p in dynamics.parameters():
        p.data[...] = 0.7 * rng.standard_normal(p.data.shape)
    return B.ContinuousFlow(dynamics, steps=steps, rng=np.random.default_rng(seed + 1), **options)


@pytest.mark.parametrize("noise", ["gaussian", "rademacher"])
def test_hutchinsons_estimator_is_unbiased_for_the_trace(noise):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 5))
    n = 20000
    x = ad.Tensor(rng.standard_normal((n, 5)), requires_grad=True)
    f = x @ ad.Tensor(A.T)
    if noise == "gaussian":
        eps = rng.standard_normal((n, 5))
    else:
        eps = rng.choice([-1.0, 1.0], size=(n, 5))
    estimates = traces.hutchinson_trace(f, x, eps, create_graph=False).data
    standard_error = estimates.std() / np.sqrt(n)
    assert abs(estimates.mean() - np.trace(A)) < Z * standard_error
    # and it can fail: the estimator of a wrong matrix is far off
    assert abs(estimates.mean() - np.trace(A) - 1.0) > Z * standard_error


def test_the_exact_trace_is_the_jacobians_trace():
    rng = np.random.default_rng(1)
    dynamics = flow().dynamics
    x = rng.standard_normal((3, 2))
    leaf = ad.Tensor(x, requires_grad=True)
    trace = traces.exact_trace(dynamics(leaf, 0.3), leaf, create_graph=False).data
    eps = 1e-6
    expected = np.zeros(3)
    for i in range(2):
        step = np.eye(2)[i] * eps
        up, down = (dynamics(ad.Tensor(x + s), 0.3).data[:, i] for s in (step, -step))
        expected += (up - down) / (2 * eps)
    np.testing.assert_allclose(trace, expected, atol=1e-7)


def test_the_exact_trace_of_a_map_of_images():
    """f(x) = reshape(tanh(flat x) A): Tr = sum_i (1 - tanh(x_i)^2) A_ii, on (n, 2, 2, 2)."""
    rng = np.random.default_rng(3)
    A, x = rng.standard_normal((8, 8)), rng.standard_normal((3, 2, 2, 2))
    leaf = ad.Tensor(x, requires_grad=True)
    f = ad.reshape(ad.reshape(ad.tanh(leaf), (3, 8)) @ ad.Tensor(A), (3, 2, 2, 2))
    expected = np.sum((1 - np.tanh(x.reshape(3, 8)) ** 2) * np.diag(A), axis=1)
    np.testing.assert_allclose(traces.exact_trace(f, leaf, create_graph=False).data, expected)
    eps = rng.standard_normal(x.shape)
    estimate = traces.hutchinson_trace(f, leaf, eps, create_graph=False).data
    J = (1 - np.tanh(x.reshape(3, 8))[:, :, None] ** 2) * A  # J[k, i, j] = df_j / dx_i
    flat = eps.reshape(3, 8)
    np.testing.assert_allclose(estimate, np.einsum("ki,kij,kj->k", flat, J, flat))


def test_the_flows_log_det_is_that_of_its_jacobian_and_the_directions_invert():
    cnf = flow(steps=40)
    x = np.random.default_rng(2).standard_normal((4, 2))
    with ad.no_grad():
        z, logdet = cnf(ad.Tensor(x))
        back, inverse_logdet = cnf.inverse(z)
    np.testing.assert_allclose(back.data, x, atol=1e-6)  # RK4 runs back up to its error
    np.testing.assert_allclose(inverse_logdet.data, -logdet.data, atol=1e-6)
    numerical = numerical_log_abs_det(lambda p: cnf(ad.Tensor(p))[0].data, x)
    np.testing.assert_allclose(logdet.data, numerical, atol=1e-5)


def test_rk4_agrees_with_scipys_adaptive_solver():
    cnf = flow(steps=40)
    x = np.random.default_rng(3).standard_normal((5, 2))
    with ad.no_grad():
        z, logdet = cnf(ad.Tensor(x))
    z_adaptive, logdet_adaptive = cnf.solve_adaptive(x, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(z_adaptive, z.data, atol=1e-6)
    np.testing.assert_allclose(logdet_adaptive, logdet.data, atol=1e-6)


def test_exact_and_hutchinson_log_likelihoods_agree_in_expectation():
    exact, estimated = flow(trace="exact"), flow(trace="hutchinson")
    n = 4000  # one point, n independent noise draws (one per copy)
    x = np.tile(np.array([[0.3, -0.8]]), (n, 1))
    with ad.no_grad():
        exact_logdet = exact(ad.Tensor(x[:1]))[1].data[0]
        draws = estimated(ad.Tensor(x))[1].data
    assert abs(draws.mean() - exact_logdet) < Z * draws.std() / np.sqrt(n)
    assert draws.std() > 0  # the estimate is random; the test compares means


@pytest.mark.parametrize("trace", ["exact", "hutchinson"])
def test_adjoint_and_backprop_gradients_agree(trace):
    # both converge to the gradient of the exact solution as the steps shrink; they differ by
    # the solver's error, O(h^4): up to 6e-4 relative at 20 steps here, within 1e-4 at 50
    x = np.random.default_rng(4).standard_normal((6, 2))
    grads = {}
    for gradient in ("backprop", "adjoint"):
        cnf = flow(steps=50, trace=trace, gradient=gradient, seed=5)
        inputs = ad.Tensor(x.copy(), requires_grad=True)
        z, logdet = cnf(inputs)
        loss = ad.sum(z * z) + ad.sum(ad.sin(z)) - 2 * ad.sum(logdet)
        loss.backward()
        grads[gradient] = [inputs.grad.data] + [p.grad.data for p in cnf.dynamics.parameters()]
    for ours, reference in zip(grads["adjoint"], grads["backprop"]):
        np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-6)
