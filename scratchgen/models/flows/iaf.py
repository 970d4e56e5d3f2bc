"""IAF, the inverse autoregressive flow (Kingma, Salimans, Jozefowicz, Chen, Sutskever &
Welling, "Improved Variational Inference with Inverse Autoregressive Flow", 2016) as a density
model: MAF's layers inverted. Sampling is one pass per layer, x_i = tau(z_i; theta_i(z_<i));
scoring data it did not generate is D passes per layer, so training it by maximum likelihood
is slow: its natural use is a VAE's posterior (``vae --set posterior_flow=iaf``).
"""

from __future__ import annotations

from scratchgen.models.base import register
from scratchgen.models.flows.maf import MAF


@register("iaf", ("binary", "categorical", "continuous"),
          "IAF: MAF's layers inverted, one pass to sample, D passes to score")  # fmt: skip
class IAF(MAF):
    invert = True
