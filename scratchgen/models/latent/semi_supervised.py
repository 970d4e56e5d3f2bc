"""The semi-supervised VAE "M2" (Kingma, Rezende, Mohamed & Welling, "Semi-supervised
Learning with Deep Generative Models", 2014, section 3.1.2): the label is a latent variable
that is sometimes observed.

    p(y) = Cat(1/K),  p(z) = N(0, I),  p(x | y, z): the decoder on [z, one-hot y]
    q(y | x) = Cat(pi(x)): a classifier,   q(z | x, y) = N(mu(x, y), diag sigma(x, y)^2)

A labelled example gets the bound on log p(x, y) (eq. 6),

    -L(x, y) = E_{q(z|x,y)}[log p(x | y, z)] - KL(q(z | x, y) || p(z)) + log p(y),

an unlabelled one the bound on log p(x) that sums over the classes (eq. 7),

    -U(x) = sum_y q(y | x) (-L(x, y)) + H(q(y | x)),

and since U alone would never teach q(y | x) from the labels, the objective adds their
classification loss (eq. 9), here as batch means:

    J = mean over the batch of [L(x, y) if labelled else U(x)] + alpha mean_labelled[-log q(y | x)]

(alpha weighs one labelled example's cross-entropy against one example's bound; the paper's
alpha = 0.1 N is the same trade for sums over a set of N examples.) Labels are integers, -1
for unlabelled; ``training_data`` keeps ``labels_per_class`` labels of each class of the
training set (chosen with a fixed seed) and hides the rest. ``classify`` is argmax q(y | x).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen import distributions as D
from scratchgen.data import DataInfo, Dataset
from scratchgen.models.base import register
from scratchgen.models.latent import bounds
from scratchgen.models.latent.base import LatentVariableModel, gaussian_posterior, standard_normal
from scratchgen.models.latent.networks import Decoder, Encoder
from scratchgen.models.latent.observation import Observation
from scratchgen.settings import NonNegative, Range, Size


def few_labels(labels: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """A copy of ``labels`` with all but ``per_class`` of each class set to -1."""
    rng = np.random.default_rng(seed)
    kept = np.full_like(labels, -1)
    for c in np.unique(labels[labels >= 0]):
        members = np.flatnonzero(labels == c)
        chosen = rng.choice(members, size=min(per_class, len(members)), replace=False)
        kept[chosen] = c
    return kept


@register(
    "m2",
    ("binary", "categorical", "continuous"),
    "semi-supervised VAE (Kingma et al. 2014, M2): labels as a partly observed latent",
)
class SemiSupervisedVAE(LatentVariableModel):
    def __init__(self, info: DataInfo, latent: Size = 16, hidden: Sequence[Size] = (256,),
                 num_classes: Annotated[int, Range(2, 4096)] = 10,
                 labels_per_class: Annotated[int, Range(1, 10**6)] = 10,
                 alpha: NonNegative = 100.0, eval_samples: Size = 100,
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, latent=latent, hidden=list(hidden), num_classes=num_classes,
                         labels_per_class=labels_per_class, alpha=alpha,
                         eval_samples=eval_samples, **hparams)  # fmt: skip
        rng = np.random.default_rng(hparams.get("seed", 0))
        self.latent, self.K = latent, num_classes
        self.observation = Observation(info, self.dtype)
        nets = dict(hidden=hidden, arch="mlp", filters=0, rng=rng, dtype=self.dtype)
        self.encoder = Encoder(info, 2 * latent, condition=num_classes, **nets)  # q(z | x, y)
        self.decoder = Decoder(info, latent, self.observation.per_dim, condition=num_classes,
                               **nets)  # fmt: skip
        self.classifier = Encoder(info, num_classes, condition=0, **nets)  # q(y | x)

    def training_data(self, data: Dataset) -> Dataset:
        if data.train_labels is None:
            raise ValueError(f"m2 learns from a few labels, and {data.name} has none")
        kept = few_labels(data.train_labels, self.hparams["labels_per_class"])
        return Dataset(data.name, data.train, data.test, data.info, kept, data.test_labels,
                       data.log_density, data.extras)  # fmt: skip

    # ------------------------------------------------------------------ the distributions
    def _one_hot(self, y: Any, n: int) -> np.ndarray:
        labels = np.broadcast_to(np.asarray(y, dtype=np.int64), (n,))
        return np.eye(self.K, dtype=self.dtype)[labels]

    def prior(self) -> D.Distribution:
        return standard_normal(self.latent, self.dtype)

    def posterior(self, x: Tensor, y: Any = None) -> D.Distribution:
        out = self.encoder(self.observation.scaled(x), self._one_hot(y, x.shape[0]))
        return gaussian_posterior(out, self.latent)

    def likelihood(self, z: Tensor, y: Any = None) -> D.Distribution:
        n = z.shape[-2] if z.ndim > 1 else 1
        return self.observation.distribution(self.decoder(z, self._one_hot(y, n)))

    def class_posterior(self, x: Tensor) -> D.Categorical:
        """q(y | x)."""
        return D.Categorical(logits=self.classifier(self.observation.scaled(x)))

    def targets(self, x: Tensor) -> Any:
        return self.observation.targets(x)

    # ------------------------------------------------------------------ the bounds
    def _labelled(self, x: Tensor, y: Any) -> Tensor:
        """-L(x, y) = ELBO of log p(x | y) + log p(y), per example."""
        q = self.posterior(x, y)
        elbo = bounds.elbo(self.targets(x), q, self.prior(), lambda z: self.likelihood(z, y),
                           self.rng)  # fmt: skip
        return elbo - math.log(self.K)

    def _unlabelled(self, x: Tensor) -> Tensor:
        """-U(x) = sum_y q(y | x) (-L(x, y)) + H(q(y | x)), per example."""
        q_y = self.class_posterior(x)
        per_class = ad.stack([self._labelled(x, c) for c in range(self.K)], axis=1)  # (n, K)
        return ad.sum(q_y.probs * per_class, axis=1) + q_y.entropy()

    def elbo(self, x: Any, y: Any = None) -> Tensor:
        """Per example: the labelled bound where y >= 0, the unlabelled one where y = -1 (or
        everywhere when y is None)."""
        x = self.as_input(x)
        y = np.full(x.shape[0], -1) if y is None else np.asarray(y, dtype=np.int64)
        labelled = y >= 0
        out = self._unlabelled(x) if not labelled.all() else None
        if labelled.any():
            known = self._labelled(x, np.where(labelled, y, 0))
            out = known if out is None else ad.where(labelled, known, out)
        return out

    def loss(self, x: Any, y: Any = None) -> Tensor:
        """-J / n: the bounds' batch mean, plus alpha times the labelled cross-entropy."""
        x = self.as_input(x)
        y = np.full(x.shape[0], -1) if y is None else np.asarray(y, dtype=np.int64)
        loss = -ad.mean(self.elbo(x, y))
        labelled = y >= 0
        if labelled.any():
            log_q = self.class_posterior(x).log_prob(np.where(labelled, y, 0))
            loss = loss - self.hparams["alpha"] * ad.sum(ad.where(labelled, log_q, 0.0)) / len(y)
        return loss

    def log_prob(self, x: Any, y: Any = None, k: int | None = None) -> Tensor:
        """Importance-sampled log p(x, y) where y is given, log p(x) = logsumexp_y [log p(y)
        + log p(x | y)] where it is not (or y is None)."""
        x = self.as_input(x)
        k = k or int(self.hparams["eval_samples"])

        def given(c: Any) -> Tensor:
            q = self.posterior(x, c)
            log_px = bounds.iwae_bound(self.targets(x), q, self.prior(),
                                       lambda z: self.likelihood(z, c), self.rng, k,
                                       chunk=100)  # fmt: skip
            return log_px - math.log(self.K)

        if y is not None and np.all(np.asarray(y) >= 0):
            return given(np.asarray(y, dtype=np.int64))
        marginal = ad.logsumexp(ad.stack([given(c) for c in range(self.K)], axis=1), axis=1)
        if y is None:
            return marginal
        y = np.asarray(y, dtype=np.int64)
        return ad.where(y >= 0, given(np.where(y >= 0, y, 0)), marginal)

    def classify(self, x: Any) -> np.ndarray:
        """argmax_y q(y | x): the classifier the labels trained."""
        with ad.no_grad():
            return np.argmax(self.class_posterior(self.as_input(x)).logits.data, axis=1)

    def sample(self, n: int, rng: np.random.Generator, y: Any = None) -> np.ndarray:
        """y ~ p(y) (or the given class), z ~ p(z), x ~ p(x | y, z)."""
        labels = rng.integers(self.K, size=n) if y is None else np.broadcast_to(y, (n,))
        return super().sample(n, rng, labels)
