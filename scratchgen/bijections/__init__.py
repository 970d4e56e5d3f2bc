"""Invertible layers for normalising flows.

A ``Bijection`` maps data to latent in ``forward(x, context=None) -> (z, log |det dz/dx|)`` and
back in ``inverse(z, context=None) -> (x, log |det dx/dz|)``, log-dets per example (n,), so that
log p(x) = log p_Z(f(x)) + log |det df/dx| (``base.py``). ``Compose`` chains them.

    elementwise     Logit, Sigmoid, ScaleDiagonal                 (diagonal Jacobians)
    coupling        AdditiveCoupling (NICE), AffineCoupling (RealNVP), SplineCoupling (NSF)
    autoregressive  MaskedAutoregressive (MAF; Inverse(...) is IAF)
    Glow            ActNorm, InvertibleConv1x1 (LU)
    multi-scale     Squeeze, MultiScale, Reshape
    permutations    Permutation, Reverse
    closed form     Planar, Radial (no inverse: push samples forward)
    continuous      ContinuousFlow (neural ODE, FFJORD's trace estimator, adjoint)
    dequantisation  VariationalDequantizer, uniform_noise
"""

from scratchgen.bijections.autoregressive import MADENetwork, MaskedAutoregressive
from scratchgen.bijections.base import (
    Bijection,
    Compose,
    Inverse,
    NotInvertible,
    per_example,
    push_forward,
)
from scratchgen.bijections.cnf import ContinuousFlow, Dynamics, rk4
from scratchgen.bijections.conditioners import ConvConditioner, MLPConditioner
from scratchgen.bijections.conv1x1 import InvertibleConv1x1
from scratchgen.bijections.coupling import (
    AdditiveCoupling,
    AffineCoupling,
    Coupling,
    SplineCoupling,
    alternate_mask,
    channel_mask,
    checkerboard_mask,
    half_mask,
)
from scratchgen.bijections.dequantize import (
    VariationalDequantizer,
    uniform_noise,
)
from scratchgen.bijections.elementwise import Logit, ScaleDiagonal, Sigmoid
from scratchgen.bijections.normalization import ActNorm, initialize_actnorm
from scratchgen.bijections.permutation import Permutation, Reverse
from scratchgen.bijections.planar import Planar, Radial
from scratchgen.bijections.spline import rational_quadratic_spline
from scratchgen.bijections.squeeze import MultiScale, Reshape, Squeeze, squeeze, unsqueeze
from scratchgen.bijections.transforms import Additive, Affine, RationalQuadratic

__all__ = [
    "Bijection", "Compose", "Inverse", "NotInvertible", "per_example", "push_forward",
    "ContinuousFlow", "Dynamics", "rk4",
    "ConvConditioner", "MLPConditioner", "InvertibleConv1x1",
    "Coupling", "AdditiveCoupling", "AffineCoupling", "SplineCoupling",
    "alternate_mask", "channel_mask", "checkerboard_mask", "half_mask",
    "VariationalDequantizer", "uniform_noise",
    "Logit", "ScaleDiagonal", "Sigmoid", "ActNorm", "initialize_actnorm",
    "Permutation", "Reverse", "Planar", "Radial", "rational_quadratic_spline",
    "MultiScale", "Reshape", "Squeeze", "squeeze", "unsqueeze",
    "Additive", "Affine", "RationalQuadratic", "MADENetwork",
    "MaskedAutoregressive",
]  # fmt: skip
