"""Initialisations: arrays drawn from an explicit generator, for weights of a given shape.

Fans follow PyTorch: for a weight (out, in, *kernel), fan_in = in * prod(kernel) and
fan_out = out * prod(kernel).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of ``shape``."""
    if len(shape) < 2:
        raise ValueError(f"fans need a weight of at least two dimensions, got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def uniform(rng: np.random.Generator, shape, low: float, high: float, dtype: Any = np.float32):
    return rng.uniform(low, high, shape).astype(dtype)


def normal(rng: np.random.Generator, shape, std: float = 1.0, dtype: Any = np.float32):
    return (std * rng.standard_normal(shape)).astype(dtype)


def zeros(shape, dtype: Any = np.float32) -> np.ndarray:
    return np.zeros(shape, dtype=dtype)


def ones(shape, dtype: Any = np.float32) -> np.ndarray:
    return np.ones(shape, dtype=dtype)


def xavier_uniform(rng: np.random.Generator, shape, gain: float = 1.0, dtype: Any = np.float32):
    """U(-a, a), a = gain sqrt(6 / (fan_in + fan_out)): keeps activation and gradient variance
    alike in both directions (Glorot & Bengio 2010, eq. 16)."""
    fan_in, fan_out = fans(shape)
    bound = gain * np.sqrt(6.0 / (fan_in + fan_out))
    return uniform(rng, shape, -bound, bound, dtype)


def kaiming_normal(rng: np.random.Generator, shape, gain: float = np.sqrt(2.0),
                   dtype: Any = np.float32):  # fmt: skip
    """N(0, gain^2 / fan_in): keeps forward variance through ReLUs (He et al. 2015, eq. 10)."""
    fan_in, _ = fans(shape)
    return normal(rng, shape, gain / np.sqrt(fan_in), dtype)


def default_uniform(rng: np.random.Generator, shape, fan_in: int, dtype: Any = np.float32):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default for Linear and Conv weights and
    biases (its kaiming_uniform with a = sqrt(5))."""
    bound = 1.0 / np.sqrt(fan_in) if fan_in > 0 else 0.0
    return uniform(rng, shape, -bound, bound, dtype)
