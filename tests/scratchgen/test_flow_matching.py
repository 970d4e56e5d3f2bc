"""Flow matching against what must hold: the exact minibatch OT plan, the paths' velocities,
the loss's minimiser (the marginal field, known in closed form from a Gaussian to a
Gaussian), the ODE solvers' orders and the likelihood on that known flow, and a trained
model's density normalised over a grid."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff as ad
from autodiff import Tensor
from scratchgen import data, models, ode, train
from scratchgen import flow_matching as fm
from scratchgen.models.flow_matching.cfm import standard_normal_log_prob

# p_0 = N(0, I) to p_1 = N(M, S^2 I) under the "lipman" path with sigma_min = 0 and the
# independent coupling: x_t = (1 - t) x0 + t x1 ~ N(t M, a(t)^2 I), a^2 = (1 - t)^2 + t^2 S^2,
# whose marginal velocity is u_t(x) = M + (t S^2 - (1 - t)) / a^2 (x - t M).
M, S = np.array([2.0, -1.0]), 0.5


def _slope(t: np.ndarray) -> np.ndarray:
    return ((t * S**2 - (1 - t)) / ((1 - t) ** 2 + t**2 * S**2))[:, None]


def marginal_velocity(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    return M + _slope(t) * (x - t[:, None] * M)


def marginal_divergence(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    return len(M) * _slope(t)[:, 0]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 6))
def test_minibatch_ot_is_the_cheapest_pairing(seed, n):
    """Against every permutation of up to 6 points."""
    rng = np.random.default_rng(seed)
    x0, x1 = rng.standard_normal((2, n, 3))
    order = fm.minibatch_ot(x0, x1)
    assert sorted(order) == list(range(n))

    def cost(permutation):
        return float(np.sum((x0 - x1[list(permutation)]) ** 2))

    best = min(cost(p) for p in itertools.permutations(range(n)))
    assert cost(order) == pytest.approx(best, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("path", fm.PATHS)
def test_each_path_moves_at_its_velocity_from_x0_to_x1(path):
    """u_t = d x_t / dt (the paths are linear in t, so a difference quotient is exact), x_0 is
    x0 and x_1 is x1, up to the path's width sigma."""
    rng = np.random.default_rng(0)
    x0, x1 = rng.standard_normal((2, 50, 4))
    sigma, t, h = 0.1, rng.uniform(size=50), 1e-3

    def at(times):
        return fm.conditional_path(x0, x1, times, sigma, path, np.random.default_rng(1))

    x_t, u_t = at(t)
    np.testing.assert_allclose((at(t + h)[0] - x_t) / h, u_t, atol=1e-8)
    start, end = at(np.zeros(50))[0], at(np.ones(50))[0]
    eps = np.random.default_rng(1).standard_normal(x0.shape)
    if path == "lipman":
        np.testing.assert_allclose(start, x0)
        np.testing.assert_allclose(end, x1 + sigma * x0)
    else:
        np.testing.assert_allclose(start, x0 + sigma * eps)
        np.testing.assert_allclose(end, x1 + sigma * eps)


def test_the_loss_exceeds_its_value_at_the_marginal_field_by_the_distance_to_it():
    """E L_CFM(v) = E ||v - u_t(x_t)||^2 + a constant (Lipman et al. 2023, theorem 2): moving
    v off the marginal field by delta raises the loss by E ||delta||^2 / D, here 0.09 for
    delta = 0.3 in every coordinate; on 400 000 pairs the Monte Carlo noise of the
    difference (the same pairs on both sides) is about 1e-3."""
    rng = np.random.default_rng(0)
    n = 400_000
    x0 = rng.standard_normal((n, 2))
    x1 = M + S * rng.standard_normal((n, 2))
    t = rng.uniform(size=n)

    def loss(offset):
        def velocity(x, times):
            return Tensor(marginal_velocity(x.data, times) + offset)

        return fm.flow_matching_loss(velocity, x0, x1, t, 0.0, "lipman", rng).item()

    assert loss(0.3) - loss(0.0) == pytest.approx(0.09, abs=0.005)
    assert loss(-0.3) - loss(0.0) == pytest.approx(0.09, abs=0.005)


def test_the_exact_marginal_field_carries_the_source_to_the_target():
    """Integrated by each solver from 20 000 draws of N(0, I): the mean and standard deviation
    of N(M, S^2 I), within 5 standard errors (a false failure far below 1e-5)."""
    x0 = np.random.default_rng(0).standard_normal((20_000, 2))
    for solver in ode.SOLVERS:
        x1, nfe = ode.integrate(marginal_velocity, x0, solver=solver, steps=200)
        assert nfe == {"euler": 200, "heun": 400}.get(solver, nfe)
        se = S / np.sqrt(len(x1))
        np.testing.assert_allclose(x1.mean(axis=0), M, atol=5 * se + 0.01)
        np.testing.assert_allclose(x1.std(axis=0), S, atol=5 * se + 0.01)


@pytest.mark.parametrize("solver, order", [("euler", 1), ("heun", 2)])
def test_each_solver_shows_its_order(solver, order):
    """Halving the step shrinks the error at t = 1 by about 2^order; the exact end of the
    flow from x0 is M + S x0 (the path's affine map at t = 1)."""
    x0 = np.random.default_rng(1).standard_normal((20, 2))
    errors = [np.abs(ode.integrate(marginal_velocity, x0, solver=solver, steps=steps)[0]
                     - (M + S * x0)).max() for steps in (40, 80, 160)]  # fmt: skip
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    np.testing.assert_allclose(ratios, 2**order, rtol=0.15)


def test_the_likelihood_of_the_known_flow_is_the_target_density():
    x1 = M + S * np.random.default_rng(2).standard_normal((30, 2))
    log_p, nfe = ode.log_likelihood(marginal_velocity, marginal_divergence, x1,
                                    standard_normal_log_prob, rtol=1e-8, atol=1e-8)  # fmt: skip
    exact = -0.5 * np.sum(((x1 - M) / S) ** 2, axis=1) - 2 * np.log(S) - np.log(2 * np.pi)
    np.testing.assert_allclose(log_p, exact, atol=1e-5)
    assert nfe > 0


def test_solvers_refuse_bad_requests():
    x = np.zeros((3, 2))
    with pytest.raises(ValueError, match="solver must be one of"):
        ode.integrate(marginal_velocity, x, solver="rk4")
    with pytest.raises(ValueError, match="steps must be at least 1"):
        ode.integrate(marginal_velocity, x, steps=0)
    with pytest.raises(ValueError, match="the velocity must have the state's shape"):
        ode.integrate(lambda x, t: x[:, :1], x)
    with pytest.raises(ValueError, match="path must be one of"):
        fm.conditional_path(x, x, np.zeros(3), 0.1, "straight", np.random.default_rng(0))


@pytest.fixture(scope="module")
def moons_model():
    dataset = data.load("two_moons")
    model = models.create("flow_matching", dataset.info, coupling="ot", path="tong", sigma=0.1,
                          hidden=[32, 32], embedding=8)  # fmt: skip
    train.fit(model, dataset, progress=False, steps=150, batch_size=128, lr=3e-3,
              eval_every=10**9)  # fmt: skip
    return model


def test_a_trained_flow_is_a_normalised_density(moons_model):
    """exp(log p) summed over a 48 x 48 grid on [-3, 4] x [-3, 3] times the cell's area: 1,
    up to the mass outside the box and the grid's quadrature error."""
    side = np.linspace(-3, 4, 48), np.linspace(-3, 3, 48)
    grid = np.stack(np.meshgrid(*side), -1).reshape(-1, 2)
    cell = (side[0][1] - side[0][0]) * (side[1][1] - side[1][0])
    mass = float(np.exp(moons_model.log_prob(grid).data).sum() * cell)
    assert mass == pytest.approx(1.0, abs=0.05)


def test_sampling_is_deterministic_given_the_noise(moons_model):
    x0 = np.random.default_rng(3).standard_normal((5, 2))
    a, nfe = moons_model.sample(5, np.random.default_rng(4), x0=x0, steps=7, return_nfe=True)
    b = moons_model.sample(5, np.random.default_rng(5), x0=x0, steps=7)
    np.testing.assert_array_equal(a, b)
    assert nfe == 7
    with pytest.raises(ValueError, match="x0 must have shape"):
        moons_model.sample(4, np.random.default_rng(0), x0=x0)


def test_the_model_regresses_on_the_conditional_velocity():
    """The model's loss on a batch is L_CFM of its own network: recomputed from the same
    random draws."""
    dataset = data.load("two_moons")
    model = models.create("flow_matching", dataset.info, hidden=[8], embedding=4)
    batch = dataset.train[:16]
    state = model.rng.bit_generator.state
    ours = model.loss(batch).item()
    model.rng.bit_generator.state = state
    x0 = model.rng.standard_normal(batch.shape)
    t = model.rng.uniform(size=16)
    x_t, u_t = fm.conditional_path(x0, batch.astype(np.float64), t, 1e-4, "lipman", model.rng)
    with ad.no_grad():
        v = model.velocity(x_t, t)
    assert ours == pytest.approx(float(np.mean((v - u_t) ** 2)), rel=1e-5)


def test_reflow_trains_on_the_teachers_pairs_and_straightens_them(moons_model):
    """The student's batches are its pairs (not the data), kept in its checkpoint; trained on
    the teacher's own coupling, its one Euler step lands nearer the teacher's many-step ends
    than the teacher's own one step does (Liu et al. 2023: reflow straightens the paths)."""
    rng = np.random.default_rng(0)
    x0, x1 = moons_model.couple(2000, rng, steps=50)
    student = models.create("flow_matching", moons_model.info, coupling="reflow", pairs=2000,
                            path="tong", sigma=0.0, hidden=[32, 32], embedding=8)  # fmt: skip
    student.set_pairs(x0, x1)
    state = student.state_dict()
    np.testing.assert_array_equal(state["pair_x1"], x1)
    train.fit(student, data.load("two_moons"), progress=False, steps=300, batch_size=128,
              lr=3e-3, eval_every=10**9)  # fmt: skip
    probe_x0, probe_x1 = x0[:500], x1[:500]

    def one_step_error(model):
        end = model.sample(500, rng, x0=probe_x0, steps=1)
        return float(np.mean(np.sum((end - probe_x1) ** 2, axis=1)))

    assert one_step_error(student) < 0.5 * one_step_error(moons_model)
    with pytest.raises(ValueError, match="set_pairs takes two arrays of shape"):
        student.set_pairs(x0[:10], x1[:10])
    with pytest.raises(ValueError, match="coupling=reflow trains on pairs=N > 0"):
        models.create("flow_matching", moons_model.info, coupling="reflow")
    unset = models.create("flow_matching", moons_model.info, coupling="reflow", pairs=10)
    with pytest.raises(ValueError, match="give them by set_pairs"):
        unset.loss(x1[:4])


def test_a_dataset_as_the_source_carries_its_density(tmp_path):
    """From eight Gaussians to the moons: x0 are the source's training points, and the flow's
    likelihood starts from the source's exact density; a source without one is refused."""
    dataset = data.load("two_moons")
    model = models.create("flow_matching", dataset.info, source="eight_gaussians",
                          hidden=[8], embedding=4)  # fmt: skip
    source = data.load("eight_gaussians")
    x0 = model.draw_source(5, np.random.default_rng(0))
    nearest = np.abs(source.train[None] - x0[:, None]).max(axis=2).min(axis=1)
    assert (nearest < 1e-6).all()  # training points, to float32's rounding
    np.testing.assert_allclose(model.source_log_prob(x0), source.log_density(x0))
    np.save(tmp_path / "points.npy", source.train[:100])
    without = models.create("flow_matching", dataset.info, source=str(tmp_path / "points.npy"),
                            hidden=[8], embedding=4)  # fmt: skip
    with pytest.raises(ValueError, match="has no known density"):
        without.log_prob(dataset.test[:2])
    with pytest.raises(ValueError, match="has examples of shape"):
        models.create("flow_matching", data.load("digits").info, source="eight_gaussians")
