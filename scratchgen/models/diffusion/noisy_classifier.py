"""The noisy classifier of classifier guidance (Dhariwal & Nichol 2021, section 4.1):
p_phi(c | x_t, t), trained by cross-entropy on inputs noised by a diffusion model's own
forward process,

    L(phi) = E_{t ~ U{0..T-1}, (x_0, c), eps} [ -log p_phi(c | sqrt(alpha_bar_t) x_0
                                                  + sqrt(1 - alpha_bar_t) eps, t) ],

so that at sampling time grad_x log p_phi(c | x_t, t) can steer an unconditional (or a
conditional) model toward c: ``DDPM.sample(n, rng, y=c, classifier=clf, classifier_scale=s)``
applies eq. 14 through ``scratchgen.diffusion.classifier_guided``.

The network is the diffusion models' own f(x, t) with K outputs: the time MLP on vectors and,
on images, the UNet with K output maps averaged over the pixels (the paper uses the UNet's
downsampling half with attention pooling; the whole UNet costs about twice as much a pass and
keeps one network to read). It is trained by the one ``Trainer``: it keeps the model contract's
``loss(x, y)`` and ``rng``, though it generates nothing and is not registered for the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen import diffusion
from scratchgen.data import DataInfo
from scratchgen.models.base import GenerativeModel
from scratchgen.models.signal import to_signal
from scratchgen.nn import functional as F
from scratchgen.nn.time_mlp import NoiseConditionalMLP
from scratchgen.nn.unet import UNet
from scratchgen.settings import Classes, Size


class NoisyClassifier(GenerativeModel):
    """p_phi(c | x_t, t) for x_t of a ``noise_schedule`` with ``timesteps`` steps (they must be
    the guided model's), over ``num_classes`` classes; the network settings as the diffusion
    models' (``hidden``, ``embedding`` on vectors; ``channels``, ``multipliers``,
    ``res_blocks``, ``attention``, ``groups`` on images)."""

    def __init__(self, info: DataInfo, num_classes: Classes = 10,
                 noise_schedule: Literal["linear", "cosine"] = "linear", timesteps: Size = 1000,
                 hidden: Sequence[Size] = (128, 128), embedding: Size = 32, channels: Size = 16,
                 multipliers: Sequence[Size] = (1, 2), res_blocks: Size = 1,
                 attention: Sequence[Size] | None = None, groups: Size = 8,
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, num_classes=num_classes, noise_schedule=noise_schedule,
                         timesteps=timesteps, hidden=list(hidden), embedding=embedding,
                         channels=channels, multipliers=list(multipliers),
                         res_blocks=res_blocks, groups=groups,
                         attention=None if attention is None else list(attention),
                         **hparams)  # fmt: skip
        if num_classes < 2:
            raise ValueError(f"NoisyClassifier: num_classes must be 2 or more, got {num_classes}")
        self.schedule = diffusion.NoiseSchedule(noise_schedule, timesteps)
        self.image = len(info.shape) == 3
        rng = np.random.default_rng([self.hparams["seed"], 7])
        if self.image:
            C, H, W = info.shape
            self.net = UNet(C, (H, W), channels, multipliers, res_blocks, attention or (),
                            groups=groups, out_channels=num_classes, rng=rng,
                            dtype=self.dtype)  # fmt: skip
        else:
            self.net = NoiseConditionalMLP(info.dims, self.hparams["hidden"], embedding,
                                           out_features=num_classes, rng=rng,
                                           dtype=self.dtype)  # fmt: skip

    def logits(self, x_t: Tensor, t: np.ndarray) -> Tensor:
        """(n, K) logits of p_phi(c | x_t, t), x_t in the model's space, t step indices."""
        out = self.net(ad.astype(x_t, self.dtype), t)
        return ad.mean(out, axis=(2, 3)) if self.image else out  # images: maps (n, K, H, W)

    def log_prob_classes(self, x_t: np.ndarray, t: np.ndarray) -> np.ndarray:
        """log p_phi(c | x_t, t) for every class, (n, K), as a float64 ndarray."""
        with ad.no_grad():
            logits = self.logits(Tensor(np.asarray(x_t, self.dtype)),
                                 self.schedule.index(t, len(x_t)))  # fmt: skip
            return F.log_softmax(logits, dim=1).data.astype(np.float64)

    def grad_log_prob(self, x_t: np.ndarray, t: np.ndarray, y: np.ndarray) -> np.ndarray:
        """grad_x log p_phi(y | x_t, t), x_t's shape, by one backward pass through the engine
        (the examples are independent, so the gradient of the sum is each one's own)."""
        labels = self._labels(y, len(x_t))
        with ad.enable_grad():
            inputs = Tensor(np.asarray(x_t, self.dtype), requires_grad=True)
            log_p = F.log_softmax(self.logits(inputs, self.schedule.index(t, len(x_t))), dim=1)
            chosen = ad.sum(log_p * Tensor(np.eye(log_p.shape[1], dtype=self.dtype)[labels]))
            (grad,) = ad.grad(chosen, [inputs])
        return grad.data.astype(np.float64)

    def loss(self, x: Any, y: Any = None) -> Tensor:
        """The cross-entropy of the true class at one uniform step per example."""
        x0 = to_signal(self.as_input(x).data, self.info).astype(self.dtype)
        labels = self._labels(y, len(x0))
        t = self.rng.integers(0, self.schedule.T, size=len(x0))
        x_t = self._noised(x0, t, self.rng)
        return F.cross_entropy(self.logits(Tensor(x_t), t), labels)

    def _noised(self, x0: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.schedule.q_sample(x0, t, rng.standard_normal(x0.shape)).astype(self.dtype)

    def classify(self, x: Any, step: int = 0, rng: np.random.Generator | None = None) -> Any:
        """argmax_c p_phi(c | x_t, t) for data x noised to ``step`` (0: nearly clean) with
        noise from ``rng`` (a fixed one unless given, so that evaluations repeat)."""
        x0 = to_signal(self.as_input(x).data, self.info)
        t = np.full(len(x0), step)
        x_t = self._noised(x0, t, np.random.default_rng(0) if rng is None else rng)
        return np.argmax(self.log_prob_classes(x_t, t), axis=1)

    def accuracy_by_step(self, x: Any, y: Any, steps: Sequence[int],
                         rng: np.random.Generator) -> dict[int, float]:  # fmt: skip
        """The accuracy on (x, y) with x noised to each of ``steps``: how much guidance signal
        the classifier still carries at each noise level."""
        labels = self._labels(y, len(x))
        return {int(step): float(np.mean(self.classify(x, step, rng) == labels))
                for step in steps}  # fmt: skip

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError("NoisyClassifier classifies; it generates nothing")
