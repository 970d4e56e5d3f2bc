"""Synthetic waveforms for WaveNet: sums of sinusoids under decaying envelopes, mu-law
quantised (van den Oord et al., "WaveNet", 2016, eq. 2):

    f(x) = sign(x) ln(1 + mu |x|) / ln(1 + mu),   x in [-1, 1],

then f(x) is cut into ``levels`` equal bins: fine steps near zero, where most of the signal
is, coarse ones near the peaks.
"""

from __future__ import annotations

import numpy as np

from scratchgen.data.dataset import DataInfo, Dataset


def mu_law_encode(x: np.ndarray, levels: int) -> np.ndarray:
    mu = levels - 1
    f = np.sign(x) * np.log1p(mu * np.abs(np.clip(x, -1, 1))) / np.log1p(mu)
    return np.clip(np.floor((f + 1) / 2 * levels), 0, levels - 1).astype(np.int64)


def mu_law_decode(q: np.ndarray, levels: int) -> np.ndarray:
    """The centre of each bin, mapped back through the inverse of f."""
    mu = levels - 1
    f = (np.asarray(q) + 0.5) / levels * 2 - 1
    return np.sign(f) * np.expm1(np.abs(f) * np.log1p(mu)) / mu


def waveforms(n: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """n waveforms in [-1, 1]: 1 to 3 sinusoids (1 to 12 cycles per window, random phase and
    amplitude), each under an envelope exp(-decay t) with decay up to 4 per window."""
    t = np.arange(length) / length
    out = np.zeros((n, length))
    for i in range(n):
        for _ in range(rng.integers(1, 4)):
            cycles, phase = rng.uniform(1, 12), rng.uniform(0, 2 * np.pi)
            envelope = np.exp(-rng.uniform(0, 4) * t)
            out[i] += rng.uniform(0.2, 1.0) * envelope * np.sin(2 * np.pi * cycles * t + phase)
        out[i] /= max(1.0, np.abs(out[i]).max())
    return out


def waves(length: int = 128, levels: int = 64) -> Dataset:
    """2000 training and 500 test waveforms of ``length`` samples, mu-law quantised to
    ``levels`` levels (categorical)."""
    train = mu_law_encode(waveforms(2000, length, np.random.default_rng(5)), levels)
    test = mu_law_encode(waveforms(500, length, np.random.default_rng(6)), levels)
    return Dataset("waves", train, test, DataInfo((length,), "categorical", levels))
