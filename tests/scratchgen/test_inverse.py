"""Inverse problems: the operators against their definitions and against the SVD of their own
matrices, and the replacement samplers on Gaussians whose conditionals are closed forms (the
exact eps of ``scratchgen.diffusion.targets``, no training)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchgen import diffusion, inverse
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
