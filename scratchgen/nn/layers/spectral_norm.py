"""``SpectralNorm``: a layer whose weight is divided by its largest singular value (Miyato,
Kataoka, Koyama & Yoshida, "Spectral Normalization for Generative Adversarial Networks", 2018).

A linear map's Lipschitz constant is its spectral norm sigma(W), the largest singular value of
W as a matrix (out, in k k) for a convolution; W_SN = W / sigma(W) makes each layer
1-Lipschitz (their eq. 8), and a stack of such layers and 1-Lipschitz activations too. sigma is
estimated by power iteration (their Algorithm 1), one step per training forward pass, carried
over from pass to pass in the buffers u and v, so that one step suffices once W moves slowly:

    v <- W^T u / ||W^T u||,    u <- W v / ||W v||,    sigma(W) ~ u^T W v

u and v are constants for the gradient (as in the paper and PyTorch): d sigma / dW = u v^T.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.nn.layers.conv import ConvTranspose2d
from scratchgen.nn.module import Module


def _normalized(a: np.ndarray, eps: float) -> np.ndarray:
    return a / max(float(np.linalg.norm(a)), eps)


class SpectralNorm(Module):
    """Wrap ``layer`` (any module with a ``weight``) so that its forward pass uses
    W / sigma(W). ``dim`` is the weight's axis of outputs (0; 1 for ConvTranspose2d, whose
    weight is (in, out, kh, kw), as PyTorch); ``power_iterations`` per training pass. In eval
    mode u and v are not updated, so the layer is a fixed function."""

    def __init__(self, layer: Module, *, rng: np.random.Generator, power_iterations: int = 1,
                 dim: int | None = None, eps: float = 1e-12) -> None:  # fmt: skip
        super().__init__()
        if power_iterations < 1:
            raise ValueError(f"SpectralNorm: power_iterations must be >= 1, got "
                             f"{power_iterations}")  # fmt: skip
        self.layer = layer
        self.dim = (1 if isinstance(layer, ConvTranspose2d) else 0) if dim is None else dim
        self.power_iterations, self.eps = power_iterations, eps
        matrix = self._matrix(layer.weight.data)
        self.register_buffer("u", _normalized(rng.standard_normal(matrix.shape[0]), eps)
                             .astype(matrix.dtype))  # fmt: skip
        self.register_buffer("v", _normalized(matrix.T @ self.u, eps))

    def _matrix(self, w: Any) -> Any:
        """The weight as (outputs, everything else): an ndarray or a Tensor."""
        swap = ad.swapaxes if isinstance(w, Tensor) else np.swapaxes
        moved = w if self.dim == 0 else swap(w, 0, self.dim)
        return moved.reshape(moved.shape[0], -1)

    def _power_iteration(self) -> None:
        w = self._matrix(self.layer.weight.data)
        u, v = self.u, self.v
        for _ in range(self.power_iterations):
            v = _normalized(w.T @ u, self.eps)
            u = _normalized(w @ v, self.eps)
        self.register_buffer("u", u)
        self.register_buffer("v", v)

    def sigma(self) -> Tensor:
        """u^T W v: the estimate of sigma(W), differentiable in W."""
        w = self._matrix(self.layer.weight)
        return ad.sum(ad.as_constant(self.u) * ad.matmul(w, ad.as_constant(self.v)))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.training:
            self._power_iteration()
        weight = self.layer.weight
        # the layer's forward reads self.weight: lend it W / sigma for this call only, past
        # Module.__setattr__, which would unregister the parameter
        object.__setattr__(self.layer, "weight", weight / self.sigma())
        try:
            return self.layer(*args, **kwargs)
        finally:
            object.__setattr__(self.layer, "weight", weight)

    def extra_repr(self) -> str:
        return f"power_iterations={self.power_iterations}"
