"""Inverse problems: linear measurements y = A x (inpainting, colourisation, super-resolution,
any matrix) and samplers of x given y from a diffusion model's noise predictor, on plain
functions of ndarrays like ``scratchgen.diffusion``'s samplers: replacement and RePaint, and
diffusion posterior sampling (DPS), which also needs the predictor's vector-Jacobian product."""

from scratchgen.inverse.operators import (
    REC601,
    Colorize,
    Inpaint,
    Linear,
    LinearOperator,
    SuperResolve,
    rotation_with_first_axis,
)
from scratchgen.inverse.posterior_sampling import consistency_gradient, dps
from scratchgen.inverse.replacement import impute, repaint, repaint_times

__all__ = ["REC601", "Colorize", "Inpaint", "Linear", "LinearOperator", "SuperResolve",
           "consistency_gradient", "dps", "impute", "repaint", "repaint_times",
           "rotation_with_first_axis"]  # fmt: skip
