"""Argument checks and the mask shared by the attention kernel and its reference."""

from __future__ import annotations

from typing import Any

import numpy as np

from kernels._shapes import check_float


def check_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: Any) -> None:
    check_float("attention", q, k, v)
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError(
            f"attention: expected (batch, heads, T, d) arrays, got q {q.shape}, k {k.shape}, "
            f"v {v.shape}"
        )
    if q.shape[:2] != k.shape[:2] or k.shape[:3] != v.shape[:3] or q.shape[3] != k.shape[3]:
        raise ValueError(
            f"attention: q {q.shape}, k {k.shape} and v {v.shape} disagree (q and k need the "
            "same batch, heads and d; k and v the same batch, heads and length)"
        )
    if mask is not None:
        target = (q.shape[0], q.shape[1], q.shape[2], k.shape[2])
        mask = np.asarray(mask)
        if mask.dtype != np.bool_:
            raise TypeError(
                f"attention: mask must be boolean (True = may attend), got {mask.dtype}"
            )
        try:
            np.broadcast_shapes(mask.shape, target)
        except ValueError:
            raise ValueError(
                f"attention: mask of shape {mask.shape} does not broadcast to (batch, heads, "
                f"Tq, Tk) = {target}"
            ) from None


def allowed_keys(q_shape, k_shape, causal: bool, mask: Any, rows=slice(None), cols=slice(None)):
    """Boolean (…, rows, cols): True where a query may attend to a key.

    Causal attention is aligned at the top left, as PyTorch's ``is_causal``: query i sees
    keys 0..i. ``mask`` broadcasts to (batch, heads, Tq, Tk).
    """
    tq, tk = q_shape[2], k_shape[2]
    allowed = np.ones((1, 1, 1, 1), dtype=bool)
    if causal:
        i = np.arange(tq)[rows][:, None]
        j = np.arange(tk)[cols][None, :]
        allowed = (j <= i)[None, None]
    if mask is not None:
        target = (q_shape[0], q_shape[1], tq, tk)
        allowed = allowed & np.broadcast_to(np.asarray(mask), target)[:, :, rows, cols]
    return allowed
