"""``FlowModel``: what every flow model shares, whatever its layers.

    log p(x) = log p_Z(f(x)) + log |det df/dx|,      p_Z = N(0, I),      x = f^{-1}(z)

A subclass builds ``layers(shape, context, rng)``, the bijection on the data's shape; the model
keeps it as ``.flow`` and the base density as ``.base``. On continuous data ``log_prob`` is
exact. On discrete data (binary, or L grey levels) the flow models y = (x + u) / L in (0, 1)^D,
its first layer ``Logit(lambda)`` (the setting ``logit``) onto the real line, and ``log_prob``
is one draw of the dequantised bound, each of its terms written out in ``log_prob_terms``:

    log P(x) >= E_u[ log p_Z(z) + log |det dz/dy| - log q(u | x) ] - D log L

where the flow's log-det includes the logit's. It is a lower bound in expectation, in nats;
bits per dimension are its negative over D log 2 (``scratchgen eval`` reports both). With
lambda > 0 (RealNVP's 0.05) the logit's image is the bounded (logit(lambda), logit(1 -
lambda)): the base's mass outside it is lost, the discrete model sums to a little less than 1,
and the bound is conservative by that much; lambda = 0 loses nothing. A
class-conditional flow (``num_classes`` > 0) gives the one-hot label to every conditioner as
its context: log p(x | y) = log p_Z(f(x; y)) + log |det df(x; y)/dx|.

Samples: z ~ N(0, T^2 I) with temperature T (Glow, Kingma & Dhariwal 2018, section 5: T < 1
trades diversity for fidelity), then x = f^{-1}(z), and on discrete data x = floor(L y).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen import bijections as B
from scratchgen import distributions as D
from scratchgen.data import DataInfo
from scratchgen.models.base import GenerativeModel
from scratchgen.models.flows.completion import map_complete
from scratchgen.settings import Classes, Range

# the logit's lambda: y -> lambda + (1 - 2 lambda) y keeps y inside (lambda, 1 - lambda)
Squeeze = Annotated[float, Range(0, 0.5, below=True)]


class FlowModel(GenerativeModel):
    has_exact_likelihood = True

    def __init__(self, info: DataInfo, num_classes: Classes = 0, logit: Squeeze = 0.05,
                 dequantization: Literal["uniform", "variational"] = "uniform",
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, num_classes=num_classes, logit=logit,
                         dequantization=dequantization, **hparams)  # fmt: skip
        rng = np.random.default_rng([hparams.get("seed", 0), 2])
        self.discrete = info.kind != "continuous"
        self.levels = 2 if info.kind == "binary" else (info.levels or 0)
        if self.discrete:  # log_prob is the dequantised bound, not an exact likelihood
            self.has_exact_likelihood, self.has_bound = False, True
        layers = self.layers(info.shape, num_classes, rng)
        if self.discrete:
            layers = B.Compose([B.Logit(logit), layers])
        self.flow = layers
        self.dequantizer = (
            B.VariationalDequantizer(info.shape, rng=rng, dtype=self.dtype)
            if self.discrete and dequantization == "variational" else None
        )  # fmt: skip
        zeros = np.zeros(info.shape, dtype=self.dtype)
        self.base = D.Independent(D.Normal(zeros, np.ones_like(zeros)), len(info.shape))

    def layers(self, shape: tuple[int, ...], context: int, rng: np.random.Generator) -> (
            B.Bijection):  # fmt: skip
        raise NotImplementedError

    # ------------------------------------------------------------------ density
    def _context(self, y: Any, n: int) -> np.ndarray | None:
        return self._one_hot(y, n)

    def _scaled(self, x: Tensor) -> Tensor:
        """A discrete x as a context for q(u | x): its grid values in [-1, 1]."""
        return x * (2.0 / (self.levels - 1)) - 1.0

    def log_prob_terms(self, x: Any, y: Any = None, u: Any = None) -> dict[str, Tensor]:
        """The terms of log p(x) (continuous data) or of one draw of the dequantised bound
        (discrete data), each per example in nats; ``log_prob`` is their sum. ``u`` in
        [0, 1)^D fixes the dequantisation noise instead of drawing it (uniform q only):

            log_pz           log p_Z(f(y))
            log_det          log |det df/dy|, the logit's included
            dequantization   -D log L, the density of the grid's cells of side 1/L
            log_q            -log q(u | x) (0 for uniform dequantisation)"""
        x = self.as_input(x)
        context = self._context(y, x.shape[0])
        terms = {}
        if self.discrete:
            if u is not None:
                if self.dequantizer is not None:
                    raise ValueError(f"{type(self).__name__}: u can be given with uniform "
                                     "dequantisation only")  # fmt: skip
                u = ad.as_constant(np.asarray(u, self.dtype))
                log_q = ad.Tensor(np.zeros(x.shape[0], self.dtype))
            elif self.dequantizer is None:
                u, log_q = B.uniform_noise(x.shape, self.rng, self.dtype)
            else:
                u, log_q = self.dequantizer.sample(self._scaled(x), self.rng)
            x = (x + u) / self.levels
            terms["dequantization"] = (
                -self.info.dims * np.log(self.levels) * ad.Tensor(np.ones(x.shape[0], self.dtype))
            )
            terms["log_q"] = -log_q
        z, log_det = self.flow(x, context)
        terms["log_pz"], terms["log_det"] = self.base.log_prob(z), log_det
        return terms

    def log_prob(self, x: Any, y: Any = None) -> Tensor:
        """log p(x) (exact) or one draw of the dequantised bound on log P(x) (discrete data)."""
        terms = self.log_prob_terms(x, y)
        return sum(terms.values(), start=ad.Tensor(np.zeros(len(np.asarray(x)), self.dtype)))

    def initialize(self, x_train: np.ndarray, rng: np.random.Generator) -> None:
        """ActNorm's data-dependent start, from a batch of up to 512 training examples
        (dequantised, on discrete data)."""
        batch = x_train[rng.choice(len(x_train), size=min(512, len(x_train)), replace=False)]
        x = self.as_input(batch)
        if self.discrete:
            x = (x + ad.Tensor(rng.random(x.shape).astype(self.dtype))) / self.levels
        context = None
        if self.conditional:  # any labels will do for the statistics' scale
            context = self._context(rng.integers(self.hparams["num_classes"], size=len(x)),
                                    len(x))  # fmt: skip
        B.initialize_actnorm(self.flow, x, context)

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, rng: np.random.Generator, temperature: float = 1.0,
               y: Any = None) -> np.ndarray:  # fmt: skip
        """x = f^{-1}(z) with z ~ N(0, T^2 I); on discrete data, the grid cell's level."""
        if not temperature > 0:
            raise ValueError(f"{type(self).__name__}: temperature must be > 0, got {temperature}")
        z = temperature * rng.standard_normal((n,) + self.info.shape)
        with ad.no_grad():
            x, _ = self.flow.inverse(ad.Tensor(z.astype(self.dtype)), self._context(y, n))
        x = x.data
        if self.discrete:
            x = np.clip(np.floor(x * self.levels), 0, self.levels - 1)
        return x.astype(self.dtype)

    def map_complete(self, given: Any, mask: Any, rng: np.random.Generator, steps: int = 300,
                     lr: float = 0.05, y: Any = None) -> np.ndarray:  # fmt: skip
        """The most probable completion of ``given`` where ``mask`` (True = observed) is false,
        by Adam on the exact log-density: a baseline, not a sample (``flows.completion``)."""
        return map_complete(self, given, mask, rng, steps, lr, y)

    def encode(self, x: Any, y: Any = None) -> np.ndarray:
        """z = f(x) (continuous data) or f((x + 1/2) / L) (discrete data, the cells' centres)."""
        x = self.as_input(x)
        if self.discrete:
            x = (x + 0.5) / self.levels
        with ad.no_grad():
            return self.flow(x, self._context(y, x.shape[0]))[0].data


def on_vectors(shape: tuple[int, ...], layers: list[B.Bijection]) -> B.Bijection:
    """Layers that work on vectors, applied to examples of any shape: flattened on the way in
    and given their shape back on the way out (z has the shape of x)."""
    return B.Compose([B.Reshape(shape), *layers, B.Inverse(B.Reshape(shape))])


def image_data(shape: tuple[int, ...]) -> bool:
    """Whether examples are images (C, H, W), for the architectures that have an image form."""
    return len(shape) == 3
