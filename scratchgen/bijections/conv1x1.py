"""``InvertibleConv1x1`` (Glow, Kingma & Dhariwal 2018, section 3.2): a learned mixing of the
channels, the same C x C matrix W at every pixel,

    z[:, :, h, w] = W x[:, :, h, w],        log |det dz/dx| = H W log |det W|

(the Jacobian is block diagonal with H W copies of W). Computing log |det W| costs O(C^3);
with the LU parametrisation (their eq. 10)

    W = P L (U + diag(sign(s) exp(log |s|)))

P a fixed permutation, L unit lower triangular, U strictly upper triangular, the determinant
is that of the diagonal: log |det W| = sum log |s|, O(C). W starts as a random rotation.
Vectors (n, C) are the case H W = 1: an invertible linear layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg

import autodiff as ad
from autodiff import Tensor
from scratchgen.bijections.base import Bijection, Pair
from scratchgen.nn import Parameter


class InvertibleConv1x1(Bijection):
    def __init__(self, channels: int, lu: bool = True, *, rng: np.random.Generator,
                 dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        rotation, _ = np.linalg.qr(rng.standard_normal((channels, channels)))
        self.lu = lu
        if not lu:
            self.weight = Parameter(rotation, dtype=dtype)
            return
        P, L, U = scipy.linalg.lu(rotation)
        s = np.diag(U)
        self.register_buffer("P", P.astype(dtype))
        self.register_buffer("sign_s", np.sign(s).astype(dtype))
        self.register_buffer("lower_mask", np.tril(np.ones((channels, channels)), -1).astype(dtype))
        self.L = Parameter(L, dtype=dtype)
        self.U = Parameter(np.triu(U, 1), dtype=dtype)
        self.log_s = Parameter(np.log(np.abs(s)), dtype=dtype)

    def matrix(self) -> Tensor:
        """W, from its factors when LU-parametrised."""
        if not self.lu:
            return self.weight
        eye = np.eye(len(self.P), dtype=self.P.dtype)
        lower = self.L * self.lower_mask + eye
        upper = self.U * self.lower_mask.T + ad.unsqueeze(self.sign_s * ad.exp(self.log_s), 0) * eye
        return self.P @ lower @ upper

    def log_abs_det(self) -> Tensor:
        """log |det W|: sum log |s| with LU, slogdet otherwise."""
        return ad.sum(self.log_s) if self.lu else ad.slogdet(self.weight)[1]

    def _mix(self, W: Tensor, h: Tensor) -> Tensor:
        if h.ndim == 2:
            return h @ ad.transpose(W)
        n, C = h.shape[:2]
        flat = ad.reshape(h, (n, C, -1))
        return ad.reshape(W @ flat, h.shape)

    def _logdet(self, h: Tensor) -> Tensor:
        pixels = int(np.prod(h.shape[2:])) if h.ndim > 2 else 1
        return pixels * self.log_abs_det() * np.ones(h.shape[0], h.dtype)

    def forward(self, x: Tensor, context: Any = None) -> Pair:
        return self._mix(self.matrix(), x), self._logdet(x)

    def inverse(self, z: Tensor, context: Any = None) -> Pair:
        return self._mix(ad.inv(self.matrix()), z), -self._logdet(z)
