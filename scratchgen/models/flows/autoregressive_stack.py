"""The stack MAF, IAF and the autoregressive neural spline flow share: ``layers`` masked
autoregressive layers on the flattened data with a reversal between them, so that every
dimension comes first in some layer (Papamakarios et al. 2017, section 3.2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from scratchgen import bijections as B
from scratchgen.models.flows.base import on_vectors


def autoregressive_stack(shape: tuple[int, ...], layers: int, hidden: Sequence[int],
                         context: int, transform: Any, rng: np.random.Generator, dtype: Any,
                         invert: bool = False) -> B.Bijection:  # fmt: skip
    """MaskedAutoregressive, Reverse, MaskedAutoregressive, ...; with
    ``invert`` each layer is used as an IAF, ``Inverse(MaskedAutoregressive)``."""
    D = int(np.prod(shape))
    out: list[B.Bijection] = []
    for i in range(layers):
        if i:
            out.append(B.Reverse(D))
        layer = B.MaskedAutoregressive(D, hidden, context, transform, rng=rng, dtype=dtype)
        out.append(B.Inverse(layer) if invert else layer)
    return on_vectors(shape, out)
