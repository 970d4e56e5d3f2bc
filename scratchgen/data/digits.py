"""scikit-learn's bundled 8x8 handwritten digits: 1797 images, 17 grey levels (0-16)."""

from __future__ import annotations

import numpy as np

from scratchgen.data.dataset import DataInfo, Dataset


def _digits() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError(
            "the digits data ship with scikit-learn: pip install scikit-learn"
        ) from None
    bunch = load_digits()
    return bunch.images.astype(np.int64)[:, None], bunch.target.astype(np.int64)


def _split(images: np.ndarray, labels: np.ndarray, name: str, info: DataInfo) -> Dataset:
    """A fixed 80/20 split, the same on every machine (seed 0)."""
    order = np.random.default_rng(0).permutation(len(images))
    n_test = len(images) // 5
    test, train = order[:n_test], order[n_test:]
    return Dataset(name, images[train], images[test], info, labels[train], labels[test])


def digits() -> Dataset:
    """(1, 8, 8) images with 17 grey levels, categorical."""
    images, labels = _digits()
    return _split(images, labels, "digits", DataInfo((1, 8, 8), "categorical", 17))


def digits_binary() -> Dataset:
    """The same images thresholded at half intensity (> 8), binary."""
    images, labels = _digits()
    return _split(
        (images > 8).astype(np.int64), labels, "digits_binary", DataInfo((1, 8, 8), "binary")
    )
