"""The gradient penalty of WGAN-GP (Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville, "Improved
Training of Wasserstein GANs", 2017, eq. 3 and Algorithm 1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor

# added to each squared gradient norm under the square root (see gradient_penalty)
SAFE_SQUARE = 1e-12


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Any, fake: Any,
                     rng: np.random.Generator | None = None,
                     epsilon: Any = None) -> Tensor:  # fmt: skip
    """E_x_hat (||grad_x_hat critic(x_hat)||_2 - 1)^2, x_hat = epsilon x + (1 - epsilon) x_fake.

    One epsilon ~ U[0, 1] per example (drawn from ``rng`` unless given, shape (n,)); the norm
    is over all of an example's dimensions; the mean over examples. The gradient is taken
    with ``create_graph``, so that the penalty is differentiable in the critic's parameters
    (double backward). ``critic`` maps a Tensor (n, ...) to (n,) or (n, 1); ``fake`` is taken
    as a constant (the generator does not see the penalty).

    The norm is sqrt(||g||^2 + SAFE_SQUARE): at g = 0 a plain sqrt has an infinite derivative
    and its second derivative 0 x inf = NaN would reach the critic's parameters (the bug of
    some frameworks' GP code with a critic that is flat somewhere, e.g. a dead ReLU layer).
    The shift changes a norm of 1 by 5e-13.
    """
    x = ad.as_constant(real).data
    x_fake = ad.as_constant(fake).data
    if x.shape != x_fake.shape:
        raise ValueError(f"gradient_penalty: real {x.shape} and fake {x_fake.shape} differ")
    n = x.shape[0]
    if epsilon is None:
        if rng is None:
            raise ValueError("gradient_penalty: give rng (to draw epsilon) or epsilon itself")
        epsilon = rng.uniform(size=n)
    epsilon = np.asarray(epsilon, dtype=x.dtype)
    if epsilon.shape != (n,):
        raise ValueError(f"gradient_penalty: epsilon must have shape ({n},), got "
                         f"{epsilon.shape}")  # fmt: skip
    e = epsilon.reshape((n,) + (1,) * (x.ndim - 1))
    x_hat = ad.Tensor(e * x + (1 - e) * x_fake, requires_grad=True)
    with ad.enable_grad():
        values = critic(x_hat)
        if values.shape not in ((n,), (n, 1)):
            raise ValueError(f"gradient_penalty: the critic must give shape ({n},) or ({n}, 1), "
                             f"got {values.shape}")  # fmt: skip
        (g,) = ad.grad(ad.sum(values), x_hat, create_graph=True)
        squares = ad.sum(ad.reshape(g * g, (n, -1)), axis=1)
        norms = ad.sqrt(squares + SAFE_SQUARE)
        return ad.mean((norms - 1.0) ** 2)
