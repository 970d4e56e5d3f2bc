"""Evaluation: likelihood bookkeeping and sample-based metrics (NumPy and SciPy; ndarrays in,
floats or tuples out).

- ``likelihood``: bits per dimension, and the discrete NLL a density on dequantised data bounds;
- ``frechet``: the Fréchet distance between Gaussians, and FID on any features;
- ``kernel``: MMD (unbiased), its permutation test, and KID;
- ``transport``: the exact 2-Wasserstein distance between samples, and the energy distance;
- ``manifold``: precision and recall, density and coverage, and nearest training neighbours;
- ``modes``: mode coverage of toy mixtures (captured modes, high-quality samples, reverse KL);
- ``ais``: annealed importance sampling, for normalising constants and likelihoods;
- ``parzen``: the Parzen-window log-likelihood, kept to show why it misleads;
- ``captions``: caption accuracy, generated scenes read back against their captions;
- ``features``: the feature networks trained here (``feature_network``) for FID and KID.

A feature-based score is only comparable with one computed by the same feature network, so
each network has a name ("scratchgen_digits") that goes into every result computed with it.
"""

from scratchgen.metrics.ais import ais, ais_log_likelihood, hmc_transition, log_mean_weight
from scratchgen.metrics.captions import caption_accuracy
from scratchgen.metrics.features import FeatureNetwork, feature_network
from scratchgen.metrics.frechet import fid, frechet_distance
from scratchgen.metrics.kernel import kid, mmd, mmd_test
from scratchgen.metrics.likelihood import bits_per_dim, dequantized_nll
from scratchgen.metrics.manifold import density_coverage, nearest_neighbours, precision_recall
from scratchgen.metrics.modes import mode_coverage
from scratchgen.metrics.parzen import parzen_log_likelihood, select_parzen_bandwidth
from scratchgen.metrics.transport import energy_distance, wasserstein2

__all__ = [
    "FeatureNetwork", "ais", "ais_log_likelihood", "bits_per_dim", "caption_accuracy",
    "density_coverage", "dequantized_nll", "energy_distance", "feature_network", "fid",
    "frechet_distance",
    "hmc_transition", "kid", "log_mean_weight", "mmd", "mmd_test", "mode_coverage",
    "nearest_neighbours", "parzen_log_likelihood", "precision_recall", "select_parzen_bandwidth",
    "wasserstein2",
]  # fmt: skip
