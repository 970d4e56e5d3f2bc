"""Diffusion and score-SDE models' mathematics, on plain functions of ndarrays so that any
noise predictor or score plugs in: the discrete-time schedule, losses and samplers of DDPM and
DDIM, the VP / sub-VP / VE SDEs with their reverse-time samplers, the probability-flow ODE's exact
likelihood, the fast ODE solvers on the noise level (EDM's Heun, DPM-Solver++), and classifier
and classifier-free guidance."""

from scratchgen.diffusion.discrete_samplers import ddim, ddim_encode, ddpm_ancestral
from scratchgen.diffusion.guidance import (
    classifier_free,
    classifier_guided,
    guided_eps,
    sde_classifier_guided,
)
from scratchgen.diffusion.hybrid import decoder_nll, hybrid_loss, vlb_term
from scratchgen.diffusion.likelihood import finite_difference_divergence, ode_log_likelihood
from scratchgen.diffusion.objectives import (
    discretized_gaussian_log_likelihood,
    gaussian_kl,
    learned_log_variance,
    reverse_parameters,
    reverse_variance,
    simple_loss,
    variational_bound,
)
from scratchgen.diffusion.schedule import PARAMETRIZATIONS, NoiseSchedule
from scratchgen.diffusion.sde import SDE, SDES, VESDE, VPSDE, SubVPSDE
from scratchgen.diffusion.sde_samplers import (
    euler_maruyama,
    predictor_corrector,
    probability_flow_heun,
    probability_flow_ode,
)
from scratchgen.diffusion.sigma_solvers import (
    SIGMA_SOLVERS,
    VPDenoiser,
    dpm_solver_pp_2m,
    edm_heun,
    karras_sigmas,
    sigma_euler,
)
from scratchgen.diffusion.vp_bridge import score_from_eps, vp_sde_for

__all__ = [
    "NoiseSchedule", "PARAMETRIZATIONS", "SDE", "SDES", "SIGMA_SOLVERS", "SubVPSDE", "VESDE",
    "VPDenoiser", "VPSDE", "classifier_free", "classifier_guided", "ddim", "ddim_encode",
    "ddpm_ancestral", "decoder_nll", "discretized_gaussian_log_likelihood", "dpm_solver_pp_2m",
    "edm_heun", "euler_maruyama", "finite_difference_divergence", "gaussian_kl", "guided_eps",
    "hybrid_loss", "karras_sigmas", "learned_log_variance", "ode_log_likelihood",
    "predictor_corrector", "probability_flow_heun", "probability_flow_ode", "reverse_parameters",
    "reverse_variance", "score_from_eps", "sde_classifier_guided", "sigma_euler", "simple_loss",
    "variational_bound", "vlb_term", "vp_sde_for",
]  # fmt: skip
