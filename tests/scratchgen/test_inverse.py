"""Inverse problems: the operators against their definitions and against the SVD of their own
matrices, and the replacement samplers on Gaussians whose conditionals are closed forms (the
exact eps of ``scratchgen.diffusion.targets``, no training)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchgen import data, diffusion, inverse, models
from scratchgen.diffusion.targets import GaussianData
from scratchgen.metrics import mmd_test

RNG_SEEDS = st.integers(0, 2**32 - 1)


def image_operators():
    rng = np.random.default_rng(0)
    return [
        (inverse.Inpaint(rng.random((3, 4, 6)) < 0.5), (5, 3, 4, 6)),
        (inverse.Inpaint(np.arange(6) < 3), (5, 3, 4, 6)),  # one mask for every channel and row
        (inverse.Colorize(), (5, 3, 4, 6)),
        (inverse.Colorize((1.0, -2.0, 0.5)), (5, 3, 2, 2)),
        (inverse.SuperResolve(2), (5, 3, 4, 6)),
        (inverse.SuperResolve(3), (5, 2, 3, 6)),
        (inverse.Linear(rng.standard_normal((3, 7))), (5, 7)),
        (inverse.Linear(np.outer([1.0, 2.0], [1.0, 0.0, -1.0])), (5, 3)),  # rank 1 of 2 rows
    ]  # fmt: skip


OPERATORS = image_operators()
IDS = [f"{type(op).__name__}{shape}" for op, shape in OPERATORS]


def dense_matrix(operator, shape):
    """The operator's matrix on flat examples, column j its image of the j-th unit vector."""
    dims = int(np.prod(shape[1:]))
    units = np.eye(dims).reshape((dims, *shape[1:]))
    return operator.apply(units).reshape(dims, -1).T


@given(st.lists(st.floats(-3, 3), min_size=2, max_size=9).filter(lambda u: np.linalg.norm(u) > 0.1))
def test_the_rotation_is_orthonormal_and_its_first_axis_is_u(u):
    q = inverse.rotation_with_first_axis(np.array(u))
    np.testing.assert_allclose(q @ q.T, np.eye(len(u)), atol=1e-12)
    np.testing.assert_allclose(q[0], np.array(u) / np.linalg.norm(u), atol=1e-12)


@pytest.mark.parametrize("operator, shape", OPERATORS, ids=IDS)
def test_each_basis_is_orthonormal_and_reads_what_the_measurement_fixes(operator, shape):
    x = np.random.default_rng(1).standard_normal(shape)
    c = operator.to_basis(x)
    np.testing.assert_allclose(operator.from_basis(c, shape), x, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(c, axis=1),
                               np.linalg.norm(x.reshape(len(x), -1), axis=1))  # fmt: skip
    mask = operator.observed(shape)
    np.testing.assert_allclose(operator.observed_values(operator.apply(x), shape), c[:, mask],
                               atol=1e-12)  # fmt: skip
    # the observed coordinates span A's row space: the same projection as the matrix's SVD
    matrix = dense_matrix(operator, shape)
    svd = inverse.Linear(matrix)
    assert svd.rank == mask.sum()
    flat = x.reshape(len(x), -1)
    projected = operator.from_basis(np.where(mask, c, 0.0), shape).reshape(len(x), -1)
    np.testing.assert_allclose(projected, svd.from_basis(
        np.where(svd.observed(shape), svd.to_basis(flat), 0.0), shape), atol=1e-10)  # fmt: skip
    assert np.all(operator.residual(x, operator.apply(x)) < 1e-12)


@pytest.mark.parametrize("operator, shape", OPERATORS, ids=IDS)
def test_each_adjoint_is_the_transpose_of_the_operators_matrix(operator, shape):
    rng = np.random.default_rng(2)
    r = rng.standard_normal(operator.apply(np.zeros(shape)).shape)
    matrix = dense_matrix(operator, shape)
    expected = (r.reshape(len(r), -1) @ matrix).reshape(shape)
    np.testing.assert_allclose(operator.adjoint(r, shape), expected, atol=1e-12)


def test_the_operators_compute_their_definitions():
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 6))
    mask = np.zeros((3, 4, 6), bool)
    mask[:, :2] = True
    np.testing.assert_array_equal(inverse.Inpaint(mask).apply(x), x * mask)
    grey = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    np.testing.assert_allclose(inverse.Colorize().apply(x), grey[:, None])
    low = np.array([[[[x[n, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2].mean() for j in range(3)]
                      for i in range(2)] for c in range(3)] for n in range(2)])  # fmt: skip
    np.testing.assert_allclose(inverse.SuperResolve(2).apply(x), low)
    np.testing.assert_allclose(inverse.Linear(np.eye(5)[:2]).apply(x[:, 0, 0, :5]),
                               x[:, 0, 0, :2])  # fmt: skip


@pytest.mark.parametrize("make, x, message", [
    (lambda: inverse.Inpaint(np.full((4, 4), 0.5)), None, "must be boolean"),
    (lambda: inverse.Inpaint(np.ones((5, 5), bool)), np.zeros((1, 1, 4, 4)), "does not fit"),
    (lambda: inverse.Colorize(), np.zeros((1, 1, 4, 4)), "needs colour images"),
    (lambda: inverse.Colorize((0, 0, 0)), None, "not all zero"),
    (lambda: inverse.SuperResolve(3), np.zeros((1, 1, 4, 4)), "must divide"),
    (lambda: inverse.SuperResolve(1.5), None, "positive integer"),
    (lambda: inverse.Linear(np.ones((2, 3))), np.zeros((1, 4)), "3 coordinates"),
    (lambda: inverse.Linear(np.ones(3)), None, r"matrix \(M, D\)"),
])  # fmt: skip
def test_bad_input_is_refused_in_one_line(make, x, message):
    with pytest.raises(ValueError, match=message) as raised:
        make().apply(x)
    assert "\n" not in str(raised.value)


def test_a_solver_refuses_a_y_that_is_not_the_measurement_of_its_shape():
    schedule, eps_fn = diffusion.NoiseSchedule(steps=100), lambda x, t: np.zeros_like(x)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"y must be \(4, 1, 2, 2\) for x of shape"):
        inverse.impute(schedule, eps_fn, (4, 3, 2, 2), rng, inverse.Colorize(), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="y must be finite"):
        inverse.impute(schedule, eps_fn, (1, 2), rng, inverse.Inpaint([True, False]),
                       [[np.nan, 0.0]])  # fmt: skip


@given(st.integers(1, 60), st.integers(1, 12), st.integers(1, 5))
def test_repaint_walks_from_noise_to_data_one_step_at_a_time(T, jump_length, resampling):
    levels = inverse.repaint_times(T, jump_length, resampling)
    assert levels[0] == T and levels[-1] == 0 and min(levels) == 0 and max(levels) == T
    assert set(np.abs(np.diff(levels))) == {1}
    jumps = len(range(0, T - jump_length, jump_length))
    assert np.sum(np.diff(levels) < 0) == T + (resampling - 1) * jump_length * jumps


def test_each_solver_reports_one_call_per_step_down():
    schedule, rng = diffusion.NoiseSchedule(steps=30), np.random.default_rng(0)
    calls = []
    eps_fn = lambda x, t: calls.append(1) or np.zeros_like(x)  # noqa: E731
    operator, y = inverse.Inpaint([True, False]), np.zeros((3, 2))
    _, states, nfe = inverse.repaint(schedule, eps_fn, (3, 2), rng, operator, y,
                                     jump_length=4, resampling=3, return_trajectory=True,
                                     return_nfe=True)  # fmt: skip
    levels = inverse.repaint_times(30, 4, 3)
    assert nfe == len(calls) == np.sum(np.diff(levels) < 0) and len(states) == len(levels)
    assert inverse.impute(schedule, eps_fn, (3, 2), rng, operator, y, return_nfe=True)[1] == 30


@given(RNG_SEEDS)
def test_with_nothing_observed_imputation_is_the_ancestral_sampler_sample_for_sample(seed):
    schedule = diffusion.NoiseSchedule(steps=50)
    eps_fn = GaussianData([1.0, -1.0], [[1.0, 0.3], [0.3, 0.5]]).schedule_eps(schedule)
    imputed = inverse.impute(schedule, eps_fn, (20, 2), np.random.default_rng(seed),
                             inverse.Inpaint([False, False]), np.zeros((20, 2)))  # fmt: skip
    plain = diffusion.ddpm_ancestral(schedule, eps_fn, (20, 2), np.random.default_rng(seed))
    np.testing.assert_array_equal(imputed, plain)


def image_gaussian(shape, rng):
    """A correlated Gaussian over examples of ``shape`` and its exact eps on flat arrays."""
    dims = int(np.prod(shape[1:]))
    root = rng.standard_normal((dims, dims)) / np.sqrt(dims)
    return GaussianData(rng.standard_normal(dims), root @ root.T + 0.1 * np.eye(dims))


@pytest.mark.parametrize("operator, shape", OPERATORS, ids=IDS)
def test_every_solver_reproduces_the_observed_part_exactly(operator, shape):
    rng = np.random.default_rng(3)
    data, schedule = image_gaussian(shape, rng), diffusion.NoiseSchedule(steps=40)
    flat_eps = data.schedule_eps(schedule)

    def eps_fn(x, t):
        return flat_eps(x.reshape(len(x), -1), t).reshape(x.shape)

    y = operator.apply(data.sample(shape[0], rng).reshape(shape))
    for solve in (inverse.impute, lambda *a: inverse.repaint(*a, jump_length=5, resampling=3)):
        x = solve(schedule, eps_fn, shape, rng, operator, y)
        assert x.shape == shape and np.all(operator.residual(x, y) < 1e-10)


# both tests below: 2000 samples, 1000 steps of the exact eps; the z bounds are 4.4 standard
# errors (two-sided 1e-5 each), the MMD test's at p = 1e-4: a false failure about once in 10^4
N, Z = 2000, 4.4


def conditional_moments_agree(x, mean, std):
    n = len(x)
    mean_ok = np.all(np.abs(x.mean(0) - mean) < Z * std / np.sqrt(n))
    std_ok = np.all(np.abs(x.std(0) / std - 1) < Z / np.sqrt(2 * n))  # sd of s / sigma ~ 1/sqrt(2n)
    return mean_ok and std_ok


def test_replacement_samples_the_exact_conditional_when_the_parts_are_independent():
    rng = np.random.default_rng(4)
    data = GaussianData([0.5, -1.0, 2.0, 0.0], np.diag([1.0, 0.25, 2.0, 0.5]))
    schedule = diffusion.NoiseSchedule()
    seen = np.array([True, False, True, False])
    y = np.tile(np.where(seen, [3.0, 0.0, -1.0, 0.0], 0.0), (N, 1))
    x = inverse.impute(schedule, data.schedule_eps(schedule), (N, 4), rng, inverse.Inpaint(seen),
                       y)  # fmt: skip
    np.testing.assert_array_equal(x[:, seen], y[:, seen])
    free_std = np.sqrt(np.diag(data.cov)[~seen])
    assert conditional_moments_agree(x[:, ~seen], data.mean[~seen], free_std)
    exact = data.mean[~seen] + free_std * rng.standard_normal((N, 2))
    assert mmd_test(x[:, ~seen], exact, permutations=200, rng=rng)[1] > 1e-4


def test_replacement_misses_a_correlated_conditional_and_repaint_shrinks_the_error():
    """x2 | x1 = 2 under correlation 0.95 is N(1.9, 0.312^2). Replacement sees x1 only through
    the noised chain: it lands near 1.44 with sd 0.43 (1.5 conditional sds off). RePaint's ten
    resamplings every ten steps bring it to within a few hundredths."""
    rng, n = np.random.default_rng(5), N // 2
    rho, seen_value = 0.95, 2.0
    data = GaussianData([0.0, 0.0], [[1.0, rho], [rho, 1.0]])
    schedule, operator = diffusion.NoiseSchedule(), inverse.Inpaint([True, False])
    mean, std = rho * seen_value, np.sqrt(1 - rho**2)
    y = np.tile([[seen_value, 0.0]], (n, 1))
    eps_fn = data.schedule_eps(schedule)
    replaced, states = inverse.impute(schedule, eps_fn, (n, 2), rng, operator, y,
                                      return_trajectory=True)  # fmt: skip
    replaced = replaced[:, 1]
    repainted = inverse.repaint(schedule, eps_fn, (n, 2), rng, operator, y)[:, 1]
    replaced_error = abs(replaced.mean() - mean) / std
    repainted_error = abs(repainted.mean() - mean) / std
    assert replaced_error > 1.0 and replaced.std() > 1.2 * std  # the bias the docstring names
    assert repainted_error < replaced_error / 5
    assert repainted_error < 0.15 and abs(repainted.std() / std - 1) < 0.1
    # on the way, the seen coordinate is noised to its forward marginal, not pasted clean
    for level in (900, 500, 100, 10):
        seen = states[schedule.T - level][:, 0]
        alpha_bar = schedule.alpha_bar[level - 1]
        assert conditional_moments_agree(seen[:, None], np.sqrt(alpha_bar) * seen_value,
                                         np.sqrt(1 - alpha_bar))  # fmt: skip


def test_the_gaussians_eps_vjp_is_the_finite_differences():
    data = GaussianData([0.5, -1.0], [[1.0, 0.6], [0.6, 0.8]])
    schedule = diffusion.NoiseSchedule(steps=50)
    eps_fn, vjp = data.schedule_eps(schedule), data.schedule_eps_vjp(schedule)
    rng = np.random.default_rng(6)
    x, v, t, h = (
        rng.standard_normal((3, 2)),
        rng.standard_normal((3, 2)),
        np.array([0, 20, 49]),
        1e-6,
    )
    numeric = np.stack([(v * (eps_fn(x + h * e, t) - eps_fn(x - h * e, t))).sum(1) / (2 * h)
                        for e in np.eye(2)], axis=1)  # fmt: skip
    np.testing.assert_allclose(vjp(x, t, v), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("operator, shape", OPERATORS, ids=IDS)
def test_the_consistency_gradient_is_the_finite_differences(operator, shape):
    """grad_x ||y - A x0_hat(x)|| through a nonlinear eps (tanh of a fixed linear map), with
    its exact vector-Jacobian product, against central differences of the norm itself."""
    rng = np.random.default_rng(9)
    dims = int(np.prod(shape[1:]))
    W = rng.standard_normal((dims, dims)) / np.sqrt(dims)
    schedule = diffusion.NoiseSchedule(steps=50)

    def eps_fn(x, t):
        return np.tanh(x.reshape(len(x), -1) @ W.T).reshape(x.shape)

    def vjp(x, t, v):
        d = 1 - np.tanh(x.reshape(len(x), -1) @ W.T) ** 2
        return ((v.reshape(len(v), -1) * d) @ W).reshape(x.shape)

    x, t = rng.standard_normal(shape), rng.integers(0, 50, size=shape[0])
    y = operator.apply(rng.standard_normal(shape))

    def norm(x):
        a = np.sqrt(schedule.alpha_bar[t]).reshape((-1,) + (1,) * (x.ndim - 1))
        b = np.sqrt(1 - schedule.alpha_bar[t]).reshape(a.shape)
        return operator.residual((x - b * eps_fn(x, t)) / a, y)

    grad = inverse.consistency_gradient(schedule, eps_fn(x, t), vjp, operator, x, t, y)
    h, numeric = 1e-6, np.zeros(shape)
    for i in np.ndindex(shape[1:]):
        step = np.zeros(shape)
        step[(slice(None), *i)] = h
        numeric[(slice(None), *i)] = (norm(x + step) - norm(x - step)) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-6)


def test_dps_approaches_y_within_its_step_and_beats_replacement_on_a_correlated_gaussian():
    """DPS is soft: its last step moves x by zeta along a unit gradient, so the consistency
    error ends near zeta / 2 (not zero, as replacement's), below zeta for each zeta tried. On
    the correlated Gaussian of the test above it is far closer to x2 | x1 = 2 ~ N(1.90,
    0.312^2) than replacement (mean 1.998 against 1.44 measured; within a third of an sd),
    with the spread within 15%."""
    rng, n = np.random.default_rng(7), N // 2
    rho = 0.95
    data = GaussianData([0.0, 0.0], [[1.0, rho], [rho, 1.0]])
    schedule, operator = diffusion.NoiseSchedule(), inverse.Inpaint([True, False])
    y = np.tile([[2.0, 0.0]], (n, 1))
    eps_fn, vjp = data.schedule_eps(schedule), data.schedule_eps_vjp(schedule)
    mean, std = rho * 2.0, np.sqrt(1 - rho**2)
    for zeta in (0.1, 0.3):
        x, nfe = inverse.dps(schedule, eps_fn, vjp, (n, 2), rng, operator, y, zeta=zeta,
                             return_nfe=True)  # fmt: skip
        assert nfe == schedule.T and operator.residual(x, y).mean() < zeta
    replaced = inverse.impute(schedule, eps_fn, (n, 2), rng, operator, y)[:, 1]
    dps_error = abs(x[:, 1].mean() - mean) / std
    assert dps_error < 0.35 and dps_error < abs(replaced.mean() - mean) / std / 3
    assert abs(x[:, 1].std() / std - 1) < 0.15
    # at zeta = 0 nothing guides the chain: it is the ancestral sampler, sample for sample
    plain = diffusion.ddpm_ancestral(schedule, eps_fn, (5, 2), np.random.default_rng(8), "beta")
    unguided = inverse.dps(schedule, eps_fn, vjp, (5, 2), np.random.default_rng(8), operator,
                           y[:5], zeta=0.0)  # fmt: skip
    np.testing.assert_array_equal(unguided, plain)
    with pytest.raises(ValueError, match="zeta must be >= 0"):
        inverse.dps(schedule, eps_fn, vjp, (5, 2), rng, operator, y[:5], zeta=-1.0)


def test_replacement_on_a_respaced_chain_still_samples_the_exact_independent_conditional():
    """100 of the 1000 levels (Nichol & Dhariwal's respacing), the exact eps of the trained
    schedule called at tau_i: the same bounds as on the whole chain."""
    rng = np.random.default_rng(6)
    data = GaussianData([0.5, -1.0, 2.0], np.diag([1.0, 0.25, 2.0]))
    trained = diffusion.NoiseSchedule()
    schedule, tau = trained.respaced(100)
    trained_eps = data.schedule_eps(trained)
    seen = np.array([True, False, False])
    y = np.tile(np.where(seen, [3.0, 0.0, 0.0], 0.0), (N, 1))
    x = inverse.impute(schedule, lambda x, t: trained_eps(x, tau[t]), (N, 3), rng,
                       inverse.Inpaint(seen), y)  # fmt: skip
    np.testing.assert_array_equal(x[:, seen], y[:, seen])
    assert conditional_moments_agree(x[:, ~seen], data.mean[~seen],
                                     np.sqrt(np.diag(data.cov)[~seen]))  # fmt: skip


def test_a_ddpm_completes_on_a_respaced_chain_one_network_call_a_level():
    toy = data.load("eight_gaussians")
    model = models.create("ddpm", toy.info, timesteps=100, hidden=[8])
    operator, truth = inverse.Inpaint([True, False]), toy.test[:5]
    calls = []
    network = model.eps

    def counted(x_t, t, y=None):
        calls.append(np.unique(t))
        return network(x_t, t, y)

    model.eps = counted
    tau = set(model.schedule.subsequence(20).tolist())
    # RePaint: 20 steps down, and 9 more walks of 5 at each of the jumps 0, 5 and 10
    for solver, levels in (("replacement", 20), ("repaint", 20 + 3 * 9 * 5), ("dps", 20)):
        calls.clear()
        x = model.complete(operator, operator.apply(truth), np.random.default_rng(0), solver,
                           zeta=0.1, steps=20, jump_length=5, resampling=10)  # fmt: skip
        assert len(calls) == levels and {int(c[0]) for c in calls} == tau
        if solver != "dps":
            np.testing.assert_array_equal(x[:, 0], truth[:, 0])
    learned = models.create("ddpm", toy.info, timesteps=100, hidden=[8], variance="learned")
    with pytest.raises(ValueError, match="learned variance belongs to the trained schedule"):
        learned.complete(operator, operator.apply(truth), np.random.default_rng(0), steps=20)
