"""Mode coverage on toy mixtures with known centres: the protocol of the mode-collapse papers
(Metz et al., "Unrolled GANs", 2017; Srivastava et al., "VEEGAN", 2017; Lin et al., "PacGAN",
2018, section 5), where a 2-D ring of 8 or a grid of 25 Gaussians of one standard deviation
sigma is sampled 2500 times.

A sample y is *high quality* when its standardised distance to the nearest centre,

    min_c ||(y - mu_c) / sigma_c||,

is below 3 (three standard deviations), and then it is registered to that centre. With n_c
the number of high-quality samples registered to centre c of K:

    modes        = #{c : n_c >= min_count}          (captured modes)
    high_quality = sum_c n_c / n                    (the fraction of high-quality samples)
    reverse_kl   = KL(p || u) = sum_c p_c log(K p_c),   p_c = n_c / sum_c' n_c'

the KL divergence of the histogram of registered samples from the uniform one over the modes
("reverse" because the model's distribution comes first). The thresholds are those of the
PacGAN authors' evaluation code (fjxmlzn/PacGAN, ``MetricLogger``): distance below 3, and a mode
captured by a single high-quality sample (min_count=1); pass a larger min_count for a stricter
count.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from scratchgen.metrics.points import as_points

THRESHOLD = 3.0  # standard deviations


def mode_coverage(samples: ArrayLike, centers: ArrayLike, std: ArrayLike,
                  min_count: int = 1) -> dict[str, float | int | np.ndarray]:  # fmt: skip
    """{"modes", "high_quality", "reverse_kl", "counts"} (see the module docstring); ``std``
    is one standard deviation for all, one per centre (K,), or one per centre and axis (K, d).
    ``reverse_kl`` is infinite when no sample is of high quality."""
    y = as_points(samples, "mode_coverage (samples)")
    mu = as_points(centers, "mode_coverage (centers)")
    if y.shape[1] != mu.shape[1]:
        raise ValueError(f"mode_coverage: samples of dimension {y.shape[1]}, centres of "
                         f"{mu.shape[1]}")  # fmt: skip
    sigma = np.asarray(std, np.float64)
    sigma = sigma.reshape(-1, 1) if sigma.ndim == 1 else sigma
    try:
        sigma = np.broadcast_to(sigma, mu.shape)
    except ValueError:
        raise ValueError(f"mode_coverage: std of shape {np.shape(std)} does not fit "
                         f"{len(mu)} centres in {mu.shape[1]} dimensions") from None  # fmt: skip
    if not np.all(sigma > 0) or not np.all(np.isfinite(sigma)):
        raise ValueError("mode_coverage: std must be positive and finite")
    if min_count < 1:
        raise ValueError(f"mode_coverage: min_count must be at least 1, got {min_count}")
    # standardised distances: sqrt(sum_a ((y_a - mu_ca) / sigma_ca)^2), centre by centre
    distance = np.linalg.norm((y[:, None, :] - mu[None]) / sigma[None], axis=2)  # (n, K)
    nearest = np.argmin(distance, axis=1)
    good = distance[np.arange(len(y)), nearest] < THRESHOLD
    counts = np.bincount(nearest[good], minlength=len(mu))
    if counts.sum() == 0:
        reverse_kl = float("inf")
    else:
        p = counts[counts > 0] / counts.sum()
        reverse_kl = float(np.sum(p * np.log(len(mu) * p)))
    return {"modes": int(np.sum(counts >= min_count)), "high_quality": float(good.mean()),
            "reverse_kl": reverse_kl, "counts": counts}  # fmt: skip
