"""``BinaryAutoregressive``: the chain rule of probability over binary pixels.

    log p(x) = sum_i log p(x_{o_i} | x_{o_1}, ..., x_{o_(i-1)})

for an ordering o of the D dimensions. A model gives, for every i at once, the logit of
p(x_{o_i} = 1 | earlier x): ``conditional_logits(x)`` returns (n, D) logits, entry d computed
from the dimensions before d in the ordering only. Then

    log p(x) = sum_d x_d l_d - softplus(l_d)     (a Bernoulli log-likelihood per dimension)

and sampling is ancestral: fill the dimensions in order, each from its conditional.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit  # sigmoid without overflow

import autodiff as ad
from autodiff import Tensor
from scratchgen.models.base import GenerativeModel


class BinaryAutoregressive(GenerativeModel):
    has_exact_likelihood = True

    @property
    def ordering(self) -> np.ndarray:
        """The order in which dimensions are generated (raster order unless a model says)."""
        return np.arange(self.info.dims)

    def conditional_logits(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def flat(self, x: Any) -> Tensor:
        x = self.as_input(x)
        return ad.reshape(x, (x.shape[0], self.info.dims))

    def log_prob(self, x: Any) -> Tensor:
        x = self.flat(x)
        logits = self.conditional_logits(x)
        return ad.sum(x * logits - ad.softplus(logits), axis=1)

    def sample(self, n: int, rng: np.random.Generator, given: Any = None,
               mask: Any = None) -> np.ndarray:  # fmt: skip
        """D passes, one per dimension in ``ordering``: simple, and exact for any model. With
        ``given`` and a boolean ``mask`` (True = observed), observed values are kept and the
        rest completed; this samples p(rest | observed) exactly when the observed dimensions
        come first in the ordering (the top half of an image, say)."""
        x, observed = completion_start(self, n, given, mask)
        with ad.no_grad():
            for d in self.ordering:
                if observed[d]:
                    continue
                logits = self.conditional_logits(ad.Tensor(x)).data[:, d]
                x[:, d] = rng.random(n) < expit(logits)
        return x.reshape((n,) + self.info.shape)


def completion_start(model: GenerativeModel, n: int, given: Any, mask: Any):
    """(n, D) starting values and the (D,) observed mask for ``sample(..., given, mask)``."""
    x = np.zeros((n, model.info.dims), dtype=model.dtype)
    if given is None:
        return x, np.zeros(model.info.dims, dtype=bool)
    if mask is None:
        raise ValueError(
            "sample: a given observation needs a mask saying which values are observed"
        )
    mask = np.broadcast_to(np.asarray(mask, dtype=bool), model.info.shape).reshape(-1)
    given = np.broadcast_to(np.asarray(given, dtype=model.dtype), (n,) + model.info.shape)
    x[:, mask] = given.reshape(n, -1)[:, mask]
    return x, mask


def prompt_start(n: int, length: int, given: Any) -> tuple[np.ndarray, int]:
    """(n, length) token array with a ``given`` prompt ((t0,) or (n, t0)) copied in front, and
    t0, the first position left to sample."""
    out = np.zeros((n, length), dtype=np.int64)
    if given is None:
        return out, 0
    prompt = np.broadcast_to(np.asarray(given, dtype=np.int64), (n, np.shape(given)[-1]))
    out[:, : prompt.shape[1]] = prompt
    return out, prompt.shape[1]
