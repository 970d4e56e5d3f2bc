"""Reusable checks for homework graders and property-based tests.

``module_gradcheck`` checks a whole layer or model: its gradients with respect to its inputs
and every parameter, against finite differences in float64, to first or second order.
``assert_chi_square_fits`` tests sample counts against a distribution at a stated
false-failure rate, and ``assert_samples_match`` applies it to discrete samples whose
configurations are enumerated. ``assert_bijection`` checks a flow layer: both round trips, and
both log-dets against the log |det| of the Jacobian by finite differences
(``numerical_log_abs_det``), which is the only check that catches a log-det of the wrong sign
in both directions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats

import autodiff as ad
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


def numerical_log_abs_det(fn: Any, x: Any, eps: float = 1e-6) -> np.ndarray:
    """log |det d fn(x)_i / d x_i| for each example i of x (n, ...), from the Jacobian by
    central differences with Richardson's extrapolation, (4 J(eps / 2) - J(eps)) / 3, whose
    error is O(eps^4): steep maps (a spline near its minimum slope) need it. Each of the 4 D
    calls of ``fn`` moves one coordinate of every example, so ``fn`` must treat the examples
    independently. Use float64."""
    x = np.asarray(x, dtype=np.float64)
    n, D = len(x), int(np.prod(x.shape[1:]))
    flat = x.reshape(n, D)

    def central(h: float) -> np.ndarray:
        jacobian = np.empty((n, D, D))
        for d in range(D):
            step = np.zeros(D)
            step[d] = h
            up = np.asarray(fn((flat + step).reshape(x.shape))).reshape(n, D)
            down = np.asarray(fn((flat - step).reshape(x.shape))).reshape(n, D)
            jacobian[:, :, d] = (up - down) / (2 * h)
        return jacobian

    return np.linalg.slogdet((4 * central(eps / 2) - central(eps)) / 3)[1]


def assert_bijection(bijection: Module, x: Any, context: Any = None, atol: float = 1e-8,
                     logdet_atol: float = 1e-5) -> None:  # fmt: skip
    """A flow layer, checked at the points x (float64): inverse(forward(x)) = x and
    forward(inverse(z)) = z to ``atol``; forward's log-det equals log |det dz/dx| by finite
    differences, and inverse's equals log |det dx/dz|, to ``logdet_atol``."""
    x = np.asarray(x, dtype=np.float64)

    def forward(points: np.ndarray) -> np.ndarray:
        return bijection(ad.Tensor(points), context)[0].data

    def inverse(points: np.ndarray) -> np.ndarray:
        return bijection.inverse(ad.Tensor(points), context)[0].data

    with ad.no_grad():
        z, logdet = (t.data for t in bijection(ad.Tensor(x), context))
        back, inverse_logdet = (t.data for t in bijection.inverse(ad.Tensor(z), context))
        np.testing.assert_allclose(back, x, atol=atol, err_msg="inverse(forward(x)) != x")
        again = forward(back)
        np.testing.assert_allclose(again, z, atol=atol, err_msg="forward(inverse(z)) != z")
        np.testing.assert_allclose(logdet, numerical_log_abs_det(forward, x), atol=logdet_atol,
                                   err_msg="forward log-det != log |det dz/dx|")  # fmt: skip
        np.testing.assert_allclose(inverse_logdet, numerical_log_abs_det(inverse, z),
                                   atol=logdet_atol,
                                   err_msg="inverse log-det != log |det dx/dz|")  # fmt: skip
