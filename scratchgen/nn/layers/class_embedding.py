"""A learned vector per class, and one more for the *null* class: the condition a network sees
when the label is dropped (classifier-free guidance, Ho & Salimans 2022, section 3.2)."""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.nn.layers.embedding import Embedding
from scratchgen.nn.module import Module, Parameter


class ClassEmbedding(Module):
    """e(y) for labels y in [0, num_classes], where label ``num_classes`` (or ``y=None``, the
    whole batch) is the null class: a learned vector of its own, or with ``learned_null=False``
    fixed at zero, so that a network which adds e(y) is exactly unconditional on it. ``owner``
    names the network in the errors about labels."""

    def __init__(self, num_classes: int, dim: int, learned_null: bool = True, *,
                 rng: np.random.Generator, dtype: Any = np.float32,
                 owner: str = "ClassEmbedding") -> None:  # fmt: skip
        super().__init__()
        self.num_classes, self.owner = num_classes, owner
        self.table = Embedding(num_classes, dim, rng=rng, dtype=dtype)
        self.null = Parameter(np.zeros(dim, dtype)) if learned_null else None

    def forward(self, y: Any, n: int) -> Tensor:
        """(n, dim): labels y (n,) or None."""
        null = self.num_classes
        if isinstance(y, Tensor):
            y = y.data
        labels = np.full(n, null) if y is None else np.asarray(y)
        if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"{self.owner}: labels must be {n} integers, got {labels.dtype} {labels.shape}"
            )
        if labels.min() < 0 or labels.max() > null:
            raise ValueError(
                f"{self.owner}: labels run from 0 to {null - 1}, and {null} is the null class; got "
                f"{labels.min()} to {labels.max()}"
            )
        is_null = labels == null
        vectors = self.table(np.where(is_null, 0, labels))
        return ad.where(is_null[:, None], 0.0 if self.null is None else self.null, vectors)

    def extra_repr(self) -> str:
        return f"{self.num_classes} + null, {self.table.weight.shape[1]}"
