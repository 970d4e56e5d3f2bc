"""WaveNet (van den Oord et al., "WaveNet: a generative model for raw audio", 2016).

A stack of causal convolutions whose dilation doubles from layer to layer (1, 2, 4, ...), so
the receptive field grows exponentially with depth. Each layer is a gated residual unit
(section 2.3-2.4):

    z = tanh(W_f * x) . sigmoid(W_g * x),     x <- x + W_r z,     skip <- skip + W_s z

and the output is a softmax over the quantisation levels at every step, from
relu -> 1x1 -> relu -> 1x1 of the summed skips. The input is the previous sample (one-hot,
with a start value before the first), so the logits at t depend on x_<t only and log p(x) is
exact. Sampling generates one value at a time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.models.autoregressive.base import prompt_start
from scratchgen.models.base import GenerativeModel, register
from scratchgen.nn import CausalConv1d, ModuleList
from scratchgen.nn import functional as F
from scratchgen.settings import KernelSize, Layers, Size


def _pointwise(c_in: int, c_out: int, rng: np.random.Generator, dtype: Any) -> CausalConv1d:
    return CausalConv1d(c_in, c_out, 1, rng=rng, dtype=dtype)


@register("wavenet", ("categorical",), "WaveNet: gated causal dilated convolutions")
class WaveNet(GenerativeModel):
    has_exact_likelihood = True

    def __init__(self, info: DataInfo, channels: Size = 32, layers: Layers = 6,
                 kernel_size: KernelSize = 2, **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, channels=channels, layers=layers, kernel_size=kernel_size, **hparams)
        if len(info.shape) != 1:
            raise ValueError(f"WaveNet models sequences (T,), not examples of shape {info.shape}")
        rng, Q, dt = np.random.default_rng(hparams.get("seed", 0)), info.levels, self.dtype
        self.Q = Q
        self.input_layer = CausalConv1d(Q + 1, channels, kernel_size, rng=rng, dtype=dt)  # + start
        dilations = [2**i for i in range(layers)]
        self.filters = ModuleList(
            CausalConv1d(channels, channels, kernel_size, d, rng=rng, dtype=dt) for d in dilations
        )
        self.gates = ModuleList(
            CausalConv1d(channels, channels, kernel_size, d, rng=rng, dtype=dt) for d in dilations
        )
        self.residuals = ModuleList(_pointwise(channels, channels, rng, dt) for _ in dilations)
        self.skips = ModuleList(_pointwise(channels, channels, rng, dt) for _ in dilations)
        self.out_1 = _pointwise(channels, channels, rng, dt)
        self.out_2 = _pointwise(channels, Q, rng, dt)

    @property
    def receptive_field(self) -> int:
        return self.input_layer.receptive_field + sum(f.receptive_field - 1 for f in self.filters)

    def logits(self, previous: np.ndarray) -> Tensor:
        """(n, Q, T) logits from the (n, T) previous values (Q is the start value)."""
        one_hot = np.eye(self.Q + 1, dtype=self.dtype)[previous].transpose(0, 2, 1)  # (n, Q+1, T)
        x = self.input_layer(one_hot)
        skip = 0.0
        for f, g, r, s in zip(self.filters, self.gates, self.residuals, self.skips):
            z = ad.tanh(f(x)) * ad.sigmoid(g(x))
            x = x + r(z)
            skip = skip + s(z)
        return self.out_2(F.relu(self.out_1(F.relu(skip))))

    def _previous(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate([np.full((len(x), 1), self.Q), x[:, :-1]], axis=1).astype(np.int64)

    def log_prob(self, x: Any) -> Tensor:
        x = np.asarray(x.data if isinstance(x, Tensor) else x)
        self.as_input(x)  # shape check
        log_p = ad.log_softmax(self.logits(self._previous(x)), axis=1)  # (n, Q, T)
        picked = ad.take_along_axis(log_p, x.astype(np.int64)[:, None, :], axis=1)[:, 0]
        return ad.sum(picked, axis=1)

    def sample(self, n: int, rng: np.random.Generator, given: Any = None) -> np.ndarray:
        """One value at a time; ``given`` (t0,) or (n, t0) values are kept and continued."""
        T = self.info.shape[0]
        out, start = prompt_start(n, T, given)
        with ad.no_grad():
            for t in range(start, T):
                # only the last receptive field matters: feed that window, not the whole prefix
                lo = max(0, t + 1 - self.receptive_field)
                window = self._previous(out[:, : t + 1])[:, lo:]
                logits = self.logits(window).data[:, :, -1]
                out[:, t] = np.argmax(logits - np.log(-np.log(rng.random(logits.shape))), axis=1)
        return out
