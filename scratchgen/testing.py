"""Reusable checks for homework graders and property-based tests.

``module_gradcheck`` checks a whole layer or model: its gradients with respect to its inputs
and every parameter, against finite differences in float64, to first or second order.
``assert_chi_square_fits`` tests sample counts against a distribution at a stated
false-failure rate, and ``assert_samples_match`` applies it to discrete samples whose
configurations are enumerated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats

from autodiff import Tensor, gradcheck, gradgradcheck
from scratchgen.nn.module import Module


def functional_call(module: Module, tensors: Mapping[str, Tensor], *args: Any, **kwargs: Any):
    """``module(*args, **kwargs)`` with the named parameters replaced by ``tensors`` for the
    duration of the call, so gradients flow to those tensors instead."""
    modules = dict(module.named_modules())
    originals = []
    try:
        for name, tensor in tensors.items():
            owner_name, _, attribute = name.rpartition(".")
            owner = modules[owner_name]
            originals.append((owner, attribute, getattr(owner, attribute)))
            object.__setattr__(owner, attribute, tensor)
        return module(*args, **kwargs)
    finally:
        for owner, attribute, original in reversed(originals):
            object.__setattr__(owner, attribute, original)


def module_gradcheck(module: Module, *inputs: Any, second_order: bool = False, **tolerances):
    """Check a module's gradients with respect to its floating inputs and all its parameters.

    The module is cast to float64 first (finite differences need it). Integer inputs (token
    indices) are passed through as constants. Raises ``autodiff.GradcheckError`` on a mismatch.
    """
    module.to(np.float64)
    names = [name for name, _ in module.named_parameters()]
    params = [p.data for _, p in module.named_parameters()]
    inputs = [np.asarray(x, dtype=np.float64) if np.issubdtype(np.asarray(x).dtype, np.floating)
              else np.asarray(x) for x in inputs]  # fmt: skip

    def call(*args: Any) -> Tensor:
        xs, ps = args[: len(inputs)], args[len(inputs) :]
        return functional_call(module, dict(zip(names, ps)), *xs)

    check = gradgradcheck if second_order else gradcheck
    return check(call, [*inputs, *params], **tolerances)


def assert_chi_square_fits(observed: Any, expected: Any, false_failure: float = 1e-6) -> None:
    """Pearson's chi-square goodness of fit of counts ``observed`` to ``expected`` (same
    total), cells with an expected count below 5 pooled into one; a correct sampler fails it
    with probability ``false_failure``."""
    observed, expected = np.asarray(observed, float), np.asarray(expected, float)
    rare = expected < 5
    if rare.any():
        observed = np.append(observed[~rare], observed[rare].sum())
        expected = np.append(expected[~rare], expected[rare].sum())
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    threshold = float(stats.chi2.ppf(1 - false_failure, len(observed) - 1))
    assert statistic < threshold, (
        f"chi-square {statistic:.1f} exceeds {threshold:.1f} ({len(observed) - 1} degrees of "
        f"freedom, false-failure rate {false_failure:g})"
    )


def assert_samples_match(
    samples: Any, probabilities: Any, levels: int = 2, false_failure: float = 1e-6
) -> None:
    """Samples of D values in 0 .. levels - 1 each, (n, ...), against the probabilities of the
    levels^D configurations in the order of ``itertools.product(range(levels), repeat=D)``
    (the first value most significant), by ``assert_chi_square_fits``."""
    flat = np.asarray(samples).reshape(len(samples), -1).astype(np.int64)
    index = flat @ (levels ** np.arange(flat.shape[1] - 1, -1, -1))
    probabilities = np.asarray(probabilities, dtype=float)
    counts = np.bincount(index, minlength=len(probabilities))
    assert_chi_square_fits(counts, len(flat) * probabilities, false_failure)
