"""``scaled_dot_product_attention`` as an engine primitive (PyTorch's name and arguments).

The fused kernel serves first-order gradients. When backward is building a graph for a higher
derivative (``create_graph=True``) the VJP takes the composite path instead, the equations of
``kernels.attention_reference`` written in engine operations, which gives the same numbers and
is differentiable to any order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from kernels import attention as _attention


def _attention_composite_vjp(g, out, q, k, v, causal, mask, scale):
    """The attention gradients in engine operations, differentiable to any order:
    P = softmax(S), dV = P^T dO, dS = P * (dO V^T - rowsum(dO * O)), dQ = scale dS K,
    dK = scale dS^T Q."""
    P = _probabilities(q, k, causal, mask, scale)
    grad_v = ad.swapaxes(P, -1, -2) @ g
    D = ad.sum(g * out, axis=-1, keepdims=True)
    dS = P * (g @ ad.swapaxes(v, -1, -2) - D)
    return scale * (dS @ k), scale * (ad.swapaxes(dS, -1, -2) @ q), grad_v


def _attention_vjp(g, ans, q, k, v, causal, mask, scale, saved):
    if ad.is_grad_enabled():  # backward is recording a graph: take the differentiable path
        return _attention_composite_vjp(g, ans, q, k, v, causal, mask, scale)
    grads = _attention.attention_backward(
        q.data, k.data, v.data, ans.data, saved, g.data, causal, mask, scale
    )
    return tuple(Tensor(grad) for grad in grads)


# The kernel returns (O, lse): the primitive keeps lse for the backward (saves=True).
_fused_attention = ad.primitive(_attention.attention, name="attention", saves=True)
_fused_attention.defvjp_joint(_attention_vjp)


def _probabilities(q, k, causal, mask, scale):
    """softmax over keys of scale q k^T, masked; rows with no allowed key are all zero."""
    S = scale * (q @ ad.swapaxes(k, -1, -2))
    allowed = _attention.allowed_keys(q.shape, k.shape, causal, mask)
    if allowed.all():
        return ad.softmax(S, axis=-1)
    alive = allowed.any(axis=-1, keepdims=True)
    # a row with no allowed key gets finite logits (so softmax stays finite), zeroed below
    fill = np.where(alive, -np.inf, 0).astype(S.dtype)
    return ad.where(alive, ad.softmax(ad.where(allowed, S, fill), axis=-1), 0.0)


def scaled_dot_product_attention(
    query: Any, key: Any, value: Any, attn_mask: Any = None, dropout_p: float = 0.0,
    is_causal: bool = False, scale: float | None = None,
) -> Tensor:  # fmt: skip
    """softmax(scale Q K^T + mask) V over (..., L, E) query and (..., S, E) key, (..., S, Ev)
    value, as ``torch.nn.functional.scaled_dot_product_attention``.

    ``attn_mask``: boolean, True where a query may attend to a key (broadcast to (..., L, S)),
    or a float mask added to the scores. ``is_causal``: query i sees keys 0..i. ``scale``
    defaults to 1/sqrt(E). Vaswani et al., "Attention is all you need", 2017, eq. (1).
    """
    if dropout_p != 0.0:
        raise ValueError(
            "scaled_dot_product_attention: dropout_p must be 0; apply dropout with an explicit "
            "generator outside the kernel"
        )
    q, k, v = ad.as_constant(query), ad.as_constant(key), ad.as_constant(value)
    if q.ndim < 2 or k.ndim != q.ndim or v.ndim != q.ndim:
        raise ValueError(
            f"scaled_dot_product_attention: query {q.shape}, key {k.shape} and value {v.shape} "
            "must have the same number (>= 2) of dimensions"
        )
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else float(scale)
    mask = attn_mask.data if isinstance(attn_mask, Tensor) else attn_mask
    if mask is not None and np.asarray(mask).dtype != np.bool_:
        additive = ad.as_constant(mask)
        scores = scale * (q @ ad.swapaxes(k, -1, -2)) + additive
        if is_causal:
            causal = np.tril(np.ones((q.shape[-2], k.shape[-2]), dtype=bool))
            scores = ad.where(causal, scores, -np.inf)
        return ad.softmax(scores, axis=-1) @ v
    return _fused_4d(q, k, v, is_causal, mask, scale)


def _fused_4d(q, k, v, causal, mask, scale):
    """Run the kernel on (batch, heads, T, d) views of any (..., T, d) inputs."""
    lead = q.shape[:-2]
    if k.shape[:-2] != lead or v.shape[:-2] != lead:
        raise ValueError(
            f"scaled_dot_product_attention: batch shapes of query {q.shape}, key {k.shape} and "
            f"value {v.shape} differ"
        )
    batch = int(np.prod(lead)) if lead else 1
    four = (lambda t: ad.reshape(t, (batch, 1) + t.shape[-2:])) if len(lead) != 2 else (lambda t: t)
    if mask is not None:
        target = lead + (q.shape[-2], k.shape[-2])
        try:
            mask = np.broadcast_to(np.asarray(mask), target).reshape(
                four(q).shape[:2] + target[-2:]
            )
        except ValueError:
            raise ValueError(
                f"scaled_dot_product_attention: attn_mask of shape {np.shape(mask)} does not "
                f"broadcast to {target}"
            ) from None
    out = _fused_attention(four(q), four(k), four(v), causal=causal, mask=mask, scale=scale)
    return ad.reshape(out, lead + out.shape[-2:])
