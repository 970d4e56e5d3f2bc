"""VQ-VAE (van den Oord, Vinyals & Kavukcuoglu, "Neural Discrete Representation Learning",
2017), with a PixelCNN prior over its codes.

An encoder maps x to a grid of vectors z_e(x), (n, D, h, w). Each vector is replaced by its
nearest entry of a codebook e_1..e_K (eq. 1-2),

    k = argmin_j ||z_e - e_j||^2,        z_q = e_k,

and the decoder models p(x | z_q). The loss is eq. 3, summed over the grid's positions:

    L = -log p(x | z_q(x)) + ||sg[z_e(x)] - e_k||^2 + beta ||z_e(x) - sg[e_k]||^2

(sg: stop-gradient). The argmin has no gradient, so the decoder's input is the
straight-through copy z_e + sg[z_q - z_e]: its value is z_q, its gradient reaches z_e
unchanged (section 3.2). The second term moves the codebook towards the encoder's outputs;
the third, the commitment loss, keeps the encoder near its codes. With ``codebook="ema"`` the
second term is dropped and each code is instead the running average of the vectors assigned
to it (appendix A.1), with decay gamma:

    N_j <- gamma N_j + (1 - gamma) n_j,    m_j <- gamma m_j + (1 - gamma) sum_{i: k_i = j} z_e,i,
    e_j = m_j / N_j.

Codebook collapse is watched, not hidden: ``usage`` is a running average of how often each
code is chosen, ``codebook_usage(x)`` reports the perplexity exp(H) of the codes x uses (K
when all are used equally), and with ``revive`` a code whose usage falls below 1/(100 K) is
moved onto a random encoder output of the current batch (``revived`` counts them).

The prior. The codes of an image form an h x w image with K levels, so a PixelCNN (the
autoregressive family) models them. The paper fits it in a second stage; here it trains in
the same loop, on the current codes held constant (its gradient touches only its own
parameters), so that one training run yields a sampler. With q(z | x) the point mass at the
codes k(x), KL(q || p) = -log p_prior(k(x)), and

    ELBO(x) = log p(x | z_q(x)) + log p_prior(k(x))  <=  log p(x).
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.models.autoregressive.pixelcnn import PixelCNN
from scratchgen.models.base import GenerativeModel, register
from scratchgen.models.latent.networks import images_to_outputs
from scratchgen.models.latent.observation import Observation
from scratchgen.nn import Conv2d, ConvTranspose2d, Parameter, ReLU, Sequential
from scratchgen.settings import Layers, NonNegative, OneOf, Range, Size

CODEBOOKS = ("loss", "ema")


def nearest_codes(vectors: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """argmin_j ||v - e_j||^2 for each row v, from ||v||^2 - 2 v.e_j + ||e_j||^2."""
    distances = -2 * vectors @ codebook.T + np.sum(codebook**2, axis=1)
    return np.argmin(distances, axis=1)


@register(
    "vqvae",
    ("binary", "categorical", "continuous"),
    "VQ-VAE: a codebook, straight-through gradients, and a PixelCNN prior over the codes",
)
class VQVAE(GenerativeModel):
    def __init__(self, info: DataInfo, codes: Annotated[int, Range(2, 4096)] = 32,
                 code_dim: Size = 16, filters: Size = 32,
                 downsample: Annotated[int, Range(1, 6)] = 2, beta: NonNegative = 0.25,
                 codebook: Annotated[str, OneOf(CODEBOOKS)] = "ema",
                 decay: Annotated[float, Range(0, 1, above=True, below=True)] = 0.99,
                 revive: bool = True, prior_filters: Size = 32, prior_layers: Layers = 3,
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, codes=codes, code_dim=code_dim, filters=filters,
                         downsample=downsample, beta=beta, codebook=codebook, decay=decay,
                         revive=revive, prior_filters=prior_filters, prior_layers=prior_layers,
                         **hparams)  # fmt: skip
        scale = 2**downsample
        if len(info.shape) != 3 or info.shape[1] % scale or info.shape[2] % scale:
            raise ValueError(f"vqvae: needs images (C, H, W) with H and W divisible by "
                             f"2^downsample = {scale}, got {info.shape}")  # fmt: skip
        rng = np.random.default_rng(hparams.get("seed", 0))
        C, H, W = info.shape
        F, dt = filters, self.dtype
        self.K, self.D = codes, code_dim
        self.grid = (H // scale, W // scale)
        self.observation = Observation(info, dt)

        down = [Conv2d(C if i == 0 else F, F, 4, stride=2, padding=1, rng=rng, dtype=dt)
                for i in range(downsample)]  # fmt: skip
        self.encoder = Sequential(*[m for conv in down for m in (conv, ReLU())],
                                  Conv2d(F, F, 3, padding=1, rng=rng, dtype=dt), ReLU(),
                                  Conv2d(F, code_dim, 1, rng=rng, dtype=dt))  # fmt: skip
        up = [ConvTranspose2d(F, F, 4, stride=2, padding=1, rng=rng, dtype=dt)
              for _ in range(downsample)]  # fmt: skip
        self.decoder = Sequential(Conv2d(code_dim, F, 3, padding=1, rng=rng, dtype=dt), ReLU(),
                                  *[m for conv in up for m in (conv, ReLU())],
                                  Conv2d(F, C * self.observation.per_dim, 3, padding=1, rng=rng,
                                         dtype=dt))  # fmt: skip
        book = rng.uniform(-1 / codes, 1 / codes, (codes, code_dim))
        if codebook == "loss":
            self.codebook = Parameter(book, dtype=dt)
        else:  # running averages: arrays the optimizer never sees
            self.register_buffer("codebook", book.astype(dt))
            self.register_buffer("ema_counts", np.ones(codes, dt))
            self.register_buffer("ema_sums", book.astype(dt))
        self.register_buffer("usage", np.full(codes, 1.0 / codes))
        self.register_buffer("revived", np.zeros((), np.int64))
        code_info = DataInfo((1, *self.grid), "categorical", codes)
        self.prior = PixelCNN(code_info, filters=prior_filters, layers=prior_layers,
                              kernel_size=3, seed=hparams.get("seed", 0), dtype=dt)  # fmt: skip

    # ------------------------------------------------------------------ encode and quantise
    def _codebook_array(self) -> np.ndarray:
        return self.codebook.data if isinstance(self.codebook, Tensor) else self.codebook

    def encode(self, x: Tensor) -> Tensor:
        """z_e(x) as rows, (n h w, D): one vector per grid position."""
        z_e = self.encoder(self.observation.scaled(x))  # (n, D, h, w)
        return ad.reshape(ad.transpose(z_e, (0, 2, 3, 1)), (-1, self.D))

    def codes_of(self, x: Any) -> np.ndarray:
        """k(x), the code of every grid position: (n, 1, h, w) integers."""
        with ad.no_grad():
            x = self.as_input(x)
            k = nearest_codes(self.encode(x).data, self._codebook_array())
        return k.reshape(x.shape[0], 1, *self.grid)

    def decode(self, z_q_rows: Tensor, n: int) -> Tensor:
        """Decoder outputs (n, D_x K) from quantised rows (n h w, code_dim)."""
        z_q = ad.transpose(ad.reshape(z_q_rows, (n, *self.grid, self.D)), (0, 3, 1, 2))
        return images_to_outputs(self.decoder(z_q), self.observation.per_dim)

    def _lookup(self, k: np.ndarray) -> Tensor:
        """e_k: a differentiable gather for the trained codebook, a constant for the EMA one."""
        if isinstance(self.codebook, Tensor):
            return self.codebook[k]
        return ad.Tensor(self.codebook[k])

    # ------------------------------------------------------------------ the objective
    def loss(self, x: Any, y: Any = None) -> Tensor:
        """Eq. 3 per image, batch mean: -log p(x | z_q) + ||sg[z_e] - e_k||^2 (trained codebook
        only) + beta ||z_e - sg[e_k]||^2, plus the prior's -log p(k(x)) on the held codes."""
        x = self.as_input(x)
        n = x.shape[0]
        z_e = self.encode(x)  # (n h w, D)
        k = nearest_codes(z_e.data, self._codebook_array())
        e_k = self._lookup(k)
        commitment = ad.sum((z_e - e_k.detach()) ** 2) / n
        loss = self.hparams["beta"] * commitment
        if isinstance(self.codebook, Tensor):
            loss = loss + ad.sum((z_e.detach() - e_k) ** 2) / n
        z_q = z_e + (e_k - z_e).detach()  # value e_k, gradient to z_e: straight-through
        log_px_z = self.observation.distribution(self.decode(z_q, n)).log_prob(self.targets(x))
        codes = k.reshape(n, 1, *self.grid)
        prior_nll = -ad.mean(self.prior.log_prob(codes))
        if ad.is_grad_enabled() and self.training:
            self._update_codebook(z_e.data, k)
        return loss - ad.mean(log_px_z) + prior_nll

    def targets(self, x: Tensor) -> Any:
        return self.observation.targets(x)

    def _update_codebook(self, z_e: np.ndarray, k: np.ndarray) -> None:
        """The EMA codebook step (appendix A.1), the usage average, and dead-code revival."""
        counts = np.bincount(k, minlength=self.K).astype(self.dtype)
        self.usage[...] = 0.99 * self.usage + 0.01 * counts / len(k)
        if self.hparams["codebook"] == "ema":
            gamma = self.hparams["decay"]
            sums = np.zeros_like(self.ema_sums)
            np.add.at(sums, k, z_e)
            self.ema_counts[...] = gamma * self.ema_counts + (1 - gamma) * counts
            self.ema_sums[...] = gamma * self.ema_sums + (1 - gamma) * sums
            self.codebook[...] = self.ema_sums / np.maximum(self.ema_counts, 1e-5)[:, None]
        dead = np.flatnonzero(self.usage < 0.01 / self.K) if self.hparams["revive"] else []
        if len(dead):
            replacement = z_e[self.rng.choice(len(z_e), size=len(dead))]
            book = self._codebook_array()
            book[dead] = replacement
            if self.hparams["codebook"] == "ema":
                self.ema_sums[dead] = replacement
                self.ema_counts[dead] = 1.0
            self.usage[dead] = 1.0 / self.K
            self.revived[...] += len(dead)

    # ------------------------------------------------------------------ bound, samples, usage
    def elbo(self, x: Any, y: Any = None) -> Tensor:
        """log p(x | z_q(x)) + log p_prior(k(x)) per example: a lower bound on log p(x)."""
        x = self.as_input(x)
        k = nearest_codes(self.encode(x).data, self._codebook_array())
        log_px_z = self.observation.distribution(self.decode(self._lookup(k), x.shape[0]))
        codes = k.reshape(x.shape[0], 1, *self.grid)
        return log_px_z.log_prob(self.targets(x)) + self.prior.log_prob(codes)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Codes from the PixelCNN prior, then x ~ p(x | z_q)."""
        with ad.no_grad():
            codes = self.prior.sample(n, rng).astype(np.int64).reshape(-1)
            x = self.observation.draw(self.decode(ad.Tensor(self._codebook_array()[codes]), n),
                                      rng)  # fmt: skip
        return x.reshape((n,) + self.info.shape)

    def reconstruct(self, x: Any) -> np.ndarray:
        """E[x | z_q(x)]: the image decoded from its own codes."""
        k = self.codes_of(x).reshape(-1)
        with ad.no_grad():
            out = self.decode(ad.Tensor(self._codebook_array()[k]), len(np.asarray(x)))
        return self.observation.mean(out).reshape((-1,) + self.info.shape)

    def codebook_usage(self, x: Any) -> dict[str, float]:
        """The perplexity exp(H(p)) of the code frequencies p over x's grid positions (K when
        every code is used equally, 1 when one code does everything), and the share of codes
        used at all."""
        counts = np.bincount(self.codes_of(x).reshape(-1), minlength=self.K)
        p = counts / counts.sum()
        entropy = -np.sum(p[p > 0] * np.log(p[p > 0]))
        return {"perplexity": float(np.exp(entropy)), "used": float(np.mean(counts > 0))}
