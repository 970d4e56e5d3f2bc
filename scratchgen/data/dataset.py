"""``Dataset`` and ``DataInfo``: what every loader returns, and how batches are drawn."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

KINDS = ("binary", "categorical", "continuous")


@dataclass(frozen=True)
class DataInfo:
    """What a model needs to know about its data.

    ``shape`` is one example's shape; ``kind`` is "binary" (values 0/1), "categorical"
    (integers 0..levels-1: grey levels, characters) or "continuous" (real vectors).
    """

    shape: tuple[int, ...]
    kind: str
    levels: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "categorical" and not (self.levels and self.levels >= 2):
            raise ValueError("a categorical dataset needs levels >= 2")

    @property
    def dims(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class Dataset:
    """``train`` and ``test`` arrays of shape (n, *info.shape), with optional labels and
    extras (captions, scene descriptions, a toy density's exact log-density)."""

    name: str
    train: np.ndarray
    test: np.ndarray
    info: DataInfo
    train_labels: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    log_density: Callable[[np.ndarray], np.ndarray] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def batches(
        self,
        batch_size: int,
        rng: np.random.Generator,
        split: str = "train",
        drop_last: bool = True,
    ) -> Iterator[np.ndarray]:
        """One pass over a split in an order drawn from ``rng``."""
        data = self.train if split == "train" else self.test
        yield from (data[index] for index in batch_indices(len(data), batch_size, rng, drop_last))

    def __repr__(self) -> str:
        levels = "" if self.info.levels is None else f" ({self.info.levels} levels)"
        return (
            f"Dataset({self.name!r}, train {self.train.shape}, test {self.test.shape}, "
            f"{self.info.kind}{levels})"
        )


def batch_indices(
    n: int, batch_size: int, rng: np.random.Generator, drop_last: bool = True
) -> Iterator[np.ndarray]:
    """Index arrays covering a random permutation of range(n), ``batch_size`` at a time."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = rng.permutation(n)
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]


def infer_info(x: np.ndarray) -> DataInfo:
    """binary for 0/1 values, categorical for small non-negative integers, else continuous."""
    shape = x.shape[1:]
    if np.issubdtype(x.dtype, np.integer) or np.all(np.mod(x, 1) == 0):
        values = np.unique(x)
        if values.size and values.min() >= 0 and values.max() <= 1:
            return DataInfo(shape, "binary")
        if values.size and values.min() >= 0 and values.max() < 65536:
            return DataInfo(shape, "categorical", int(values.max()) + 1)
    return DataInfo(shape, "continuous")


def from_array(
    x: Any,
    kind: str | None = None,
    levels: int | None = None,
    test_fraction: float = 0.1,
    seed: int = 0,
    name: str = "array",
) -> Dataset:
    """Wrap the user's array (examples along the first axis) as a Dataset, holding out a fixed
    random ``test_fraction`` for evaluation. ``kind`` is inferred when omitted."""
    x = np.asarray(x)
    if x.ndim < 2 or len(x) < 2:
        raise ValueError(
            f"{name}: expected an array of shape (n, ...), at least two examples along the first "
            f"axis and each at least a vector, got shape {x.shape} (n numbers are shape (n, 1))"
        )
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"{name}: expected numbers, got an array of {x.dtype}")
    if kind is None:
        info = infer_info(x)
    else:
        if kind == "categorical" and levels is None:
            levels = int(x.max()) + 1
        info = DataInfo(x.shape[1:], kind, levels)
    _check_values(x, info, name)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = max(1, int(round(test_fraction * len(x))))
    return Dataset(name, x[order[n_test:]], x[order[:n_test]], info)


def _check_values(x: np.ndarray, info: DataInfo, name: str) -> None:
    if info.kind == "binary" and not np.all((x == 0) | (x == 1)):
        raise ValueError(f"{name}: kind 'binary' needs values 0 and 1 only")
    if info.kind == "categorical" and (
        np.any(x < 0) or np.any(x >= info.levels) or np.any(np.mod(x, 1))
    ):
        raise ValueError(f"{name}: kind 'categorical' needs integers in [0, {info.levels})")
    if info.kind == "continuous" and not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: the array holds NaN or infinite values")
