"""``Dropout`` with its own generator, active only in training mode."""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff import Tensor
from scratchgen.nn import functional as F
from scratchgen.nn.module import Module


class Dropout(Module):
    """Zeroes elements with probability p while training (see ``F.dropout``). The generator
    is the layer's own, so the masks are reproducible from the seed it was given."""

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must lie in [0, 1), got {p}")
        self.p, self.rng = p, rng

    def forward(self, x: Any) -> Tensor:
        return F.dropout(x, self.p, self.rng, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
