"""The fast ODE samplers on sigma: each one's order shows against the exact probability flow of
a Gaussian (halving the steps' size divides the error by about 2^order), DDIM is Euler's method
on the same levels, a DDPM's eps read as a denoiser reproduces the data, and the grids and
evaluation counts are what the docstrings say. No training: exact denoisers from
``scratchgen.diffusion.targets``."""

import numpy as np
import pytest

from scratchgen import diffusion as d
from scratchgen.diffusion.targets import GaussianData
from tests.scratchgen.test_diffusion_samplers import MIXTURE, SCHEDULE, assert_reproduces

GAUSSIAN = GaussianData([1.0, -0.5], [[1.0, 0.6], [0.6, 0.8]])
SOLVERS = {"sigma_euler": (d.sigma_euler, 1), "edm_heun": (d.edm_heun, 2),
           "dpm_solver_pp_2m": (d.dpm_solver_pp_2m, 2)}  # fmt: skip
SIGMA_MIN, SIGMA_MAX = 0.05, 20.0


def _error(solver, steps: int) -> float:
    """The largest distance, over 50 starts, between the solver's x at SIGMA_MIN and the exact
    flow's, on EDM's grid of ``steps`` intervals (no final step to 0, so that every step is
    the solver's own order)."""
    sigmas = d.karras_sigmas(steps + 1, SIGMA_MIN, SIGMA_MAX)[:-1]
    x_T = SIGMA_MAX * np.random.default_rng(0).standard_normal((50, 2)) + GAUSSIAN.mean
    x = solver(GAUSSIAN.denoiser(), x_T.shape, None, sigmas, x_T=x_T)
    return float(np.abs(x - GAUSSIAN.flow(x_T, SIGMA_MAX, SIGMA_MIN)).max())


@pytest.mark.parametrize("name", SOLVERS)
def test_each_solver_converges_at_its_order(name):
    """log2 of the error's ratio between N and 2N steps tends to the order; at 16 -> 32 -> 64
    steps it lies within 0.25 of it (measured: Euler 0.97-0.98, Heun 2.03-2.05, DPM-Solver++
    2.04-2.05; a first-order slip in a second-order solver gives about 1)."""
    solver, order = SOLVERS[name]
    errors = [_error(solver, steps) for steps in (16, 32, 64)]
    slopes = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(np.abs(slopes - order) < 0.25), (errors, slopes)


def test_second_order_solvers_beat_euler_at_equal_evaluations():
    """At 30 evaluations (measured errors: Euler 0.113, Heun's 15 steps 0.046, DPM-Solver++
    0.011), Heun is more than twice and DPM-Solver++ more than 8 times as close to the exact
    flow as Euler: one evaluation a step makes the multistep solver the cheaper one."""
    euler = _error(d.sigma_euler, 30)
    assert _error(d.edm_heun, 15) < euler / 2
    assert _error(d.dpm_solver_pp_2m, 30) < euler / 8


def _vp_start(rng, n=7):
    """A DDPM prior draw x_T ~ N(0, I) and the same point in sigma's variables x_T / sqrt(ab)."""
    x_T = rng.standard_normal((n, 2))
    return x_T, x_T / np.sqrt(SCHEDULE.alpha_bar[-1])


def test_ddim_is_euler_on_the_same_levels():
    """Song, Meng & Ermon's eq. 12 at eta = 0 and Euler's method on dx/dsigma, on DDIM's
    subsequence of levels then 0, give the same x_0 to rounding."""
    eps = MIXTURE.schedule_eps(SCHEDULE)
    x_T, x_start = _vp_start(np.random.default_rng(3))
    tau = SCHEDULE.subsequence(20)
    denoiser = d.VPDenoiser(SCHEDULE, eps)
    sigmas = np.append(denoiser.sigmas[tau[::-1]], 0.0)
    expected = d.ddim(SCHEDULE, eps, x_T.shape, None, steps=20, x_T=x_T)
    got = d.sigma_euler(denoiser, x_T.shape, None, sigmas, x_T=x_start)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["edm_heun", "dpm_solver_pp_2m"])
def test_a_ddpm_eps_read_as_a_denoiser_reproduces_the_data(name):
    """With the mixture's exact eps on DDPM's 1000 levels, 40 steps of EDM's grid (snapped onto
    the levels) sample the mixture: ``assert_reproduces``'s tests at its stated rates."""
    denoiser = d.VPDenoiser(SCHEDULE, MIXTURE.schedule_eps(SCHEDULE))
    sigmas = denoiser.snap(d.karras_sigmas(40, denoiser.sigma_min, denoiser.sigma_max))
    x = SOLVERS[name][0](denoiser, (1500, 2), np.random.default_rng(0), sigmas)
    assert x.shape == (1500, 2) and np.all(np.isfinite(x))
    assert_reproduces(x, MIXTURE, 1)


@pytest.mark.parametrize("name,expected", [("sigma_euler", 10), ("edm_heun", 19),
                                           ("dpm_solver_pp_2m", 10)])  # fmt: skip
def test_evaluations_and_trajectory(name, expected):
    sigmas = d.karras_sigmas(10, 0.1, 10.0)
    x, path, nfe = SOLVERS[name][0](GAUSSIAN.denoiser(), (4, 2), np.random.default_rng(0), sigmas,
                                    return_trajectory=True, return_nfe=True)  # fmt: skip
    assert nfe == expected and path.shape == (11, 4, 2)
    np.testing.assert_array_equal(path[-1], x)


def test_dpm_solver_lands_on_the_denoiser_at_sigma_zero():
    """The last step to sigma = 0 is x = D(x; sigma_{N-1}): on one level it is the denoiser."""
    x_T = np.random.default_rng(1).standard_normal((5, 2)) * 3
    x = d.dpm_solver_pp_2m(GAUSSIAN.denoiser(), x_T.shape, None, [3.0, 0.0], x_T=x_T)
    np.testing.assert_allclose(x, GAUSSIAN.denoiser()(x_T, np.full(5, 3.0)))


def test_karras_sigmas():
    sigmas = d.karras_sigmas(5, 0.002, 80.0)
    assert len(sigmas) == 6 and sigmas[-1] == 0
    np.testing.assert_allclose(sigmas[[0, 4]], [80.0, 0.002])
    assert np.all(np.diff(sigmas) < 0)
    # rho = 1 is an even grid; a large rho crowds the levels near sigma_min
    np.testing.assert_allclose(d.karras_sigmas(5, 1.0, 5.0, rho=1.0)[:-1], [5, 4, 3, 2, 1])
    assert d.karras_sigmas(5, 0.002, 80.0, rho=7)[3] < d.karras_sigmas(5, 0.002, 80.0, rho=3)[3]
    for bad in [dict(steps=0), dict(sigma_min=0.0), dict(sigma_min=9.0), dict(rho=0.0)]:
        kwargs = dict(steps=5, sigma_min=0.1, sigma_max=8.0) | bad
        with pytest.raises(ValueError, match="karras_sigmas"):
            d.karras_sigmas(**kwargs)


def test_vp_denoiser_snaps_and_refuses_levels_it_was_not_trained_at():
    denoiser = d.VPDenoiser(SCHEDULE, MIXTURE.schedule_eps(SCHEDULE))
    sigmas = denoiser.snap(d.karras_sigmas(30, denoiser.sigma_min, denoiser.sigma_max))
    assert sigmas[-1] == 0 and np.all(np.isin(sigmas[:-1], denoiser.sigmas))
    assert np.all(np.diff(sigmas) < 0)
    x = np.zeros((3, 2))
    with pytest.raises(ValueError, match="snap"):
        denoiser(x, np.full(3, 0.5 * (denoiser.sigmas[10] + denoiser.sigmas[11])))
    # at a level, D is the x_0 estimate of Ho et al.'s eq. 4 in sigma's variables
    i, x_t = 400, np.random.default_rng(2).standard_normal((3, 2))
    ab = SCHEDULE.alpha_bar[i]
    expected = x_t - np.sqrt(1 - ab) * MIXTURE.schedule_eps(SCHEDULE)(x_t, np.full(3, i))
    np.testing.assert_allclose(denoiser(x_t / np.sqrt(ab), np.full(3, denoiser.sigmas[i])),
                               expected / np.sqrt(ab))  # fmt: skip


@pytest.mark.parametrize("sigmas", [[1.0], [1.0, 2.0], [2.0, 1.0, -0.5], [[2.0, 1.0]]])
def test_bad_grids_are_refused(sigmas):
    with pytest.raises(ValueError, match="edm_heun: sigmas"):
        d.edm_heun(GAUSSIAN.denoiser(), (3, 2), np.random.default_rng(0), sigmas)
