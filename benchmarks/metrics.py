"""The time of each metric of ``scratchgen.metrics`` on 10 000 x 64 features (two samples of
a Gaussian, the second shifted): an evaluation must not wait on its metrics, so FID's matrix
square root and the k-NN metrics should take a few seconds at most. The exact 2-Wasserstein
distance is an O(n^3) assignment, meant for the 2-D benchmarks: it is timed on 2000 points.

Run: python -m benchmarks.metrics [--n N] [--repeats R]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from scratchgen import metrics


def _cases(real: np.ndarray, fake: np.ndarray) -> list[tuple[str, int, Callable[[], object]]]:
    rng = np.random.default_rng(1)
    small = 2000
    return [
        ("fid", len(real), lambda: metrics.fid(real, fake)),
        ("kid (100 subsets of 1000)", len(real), lambda: metrics.kid(real, fake, rng=rng)),
        ("precision_recall (k = 3)", len(real), lambda: metrics.precision_recall(real, fake)),
        ("density_coverage (k = 5)", len(real), lambda: metrics.density_coverage(real, fake)),
        ("nearest_neighbours", len(real), lambda: metrics.nearest_neighbours(fake, real)),
        ("mmd (rbf, median bandwidth)", len(real), lambda: metrics.mmd(real, fake)),
        ("energy_distance", len(real), lambda: metrics.energy_distance(real, fake)),
        ("mmd_test (200 permutations)", small,
         lambda: metrics.mmd_test(real[:small], fake[:small], 200, rng)),
        ("wasserstein2 (exact assignment)", small,
         lambda: metrics.wasserstein2(real[:small], fake[:small])),
    ]  # fmt: skip


def measure(n: int = 10_000, d: int = 64, repeats: int = 3) -> list[tuple[str, int, list[float]]]:
    """Seconds per call, ``repeats`` times each (the machine drifts: report the spread)."""
    rng = np.random.default_rng(0)
    real = rng.standard_normal((n, d))
    fake = rng.standard_normal((n, d)) + 0.1
    rows = []
    for name, size, call in _cases(real, fake):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        rows.append((name, size, times))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.metrics")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"scratchgen.metrics on {args.n} x 64 features, {args.repeats} runs each")
    print(f"  {'metric':34s} {'points':>7s} {'median s':>9s} {'range':>15s}")
    for name, size, times in measure(args.n, 64, args.repeats):
        spread = f"{min(times):.2f}-{max(times):.2f}"
        print(f"  {name:34s} {size:7d} {statistics.median(times):9.2f} {spread:>15s}")


if __name__ == "__main__":
    main()
