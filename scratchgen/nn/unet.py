"""The UNet of denoising diffusion (Ho et al. 2020, appendix B), in small.

    eps_theta(x, t [, y, c]):  x (N, C, H, W) -> (N, out_channels, H, W)

Read against the paper's description (and its PixelCNN++ backbone):

* **time embedding**: the sinusoidal features of t (Vaswani et al. 2017, section 3.5) through
  Linear -> SiLU -> Linear to 4 x base_channels, added in every residual block;
* **residual blocks** (wide ResNet, Zagoruyko & Komodakis 2016):
      h = conv3(SiLU(GN(x))) + Linear(SiLU(temb)),   out = skip(x) + conv3(drop(SiLU(GN(h))));
  the second convolution starts at zero, so each block starts as the identity (as in the
  paper's code), and skip is a 1x1 convolution where the width changes;
* **levels**: ``num_res_blocks`` blocks per resolution at base_channels x multiplier, a
  stride-2 3x3 convolution between levels going down, nearest-neighbour upsampling and a 3x3
  convolution going up, and every output of the way down joined (concatenated) to the way up:
  ``num_res_blocks + 1`` blocks per level there;
* **self-attention** (one residual block of GN, attention over the H W positions, a projection
  started at zero) after each residual block at the sides listed in ``attention_resolutions``,
  and in the middle (block, attention, block) when the lowest side is listed;
* **output**: GN, SiLU and a 3x3 convolution, started at zero.

Conditioning, each with a *null* condition for classifier-free guidance (Ho & Salimans 2022):

* ``num_classes``: a class embedding added to the time embedding. Label ``num_classes`` (or
  ``y=None``) is the null class; with ``learned_null=False`` its embedding is fixed at zero,
  so the null condition is exactly the unconditional network;
* ``context_dim``: cross-attention to a sequence of context vectors (N, L, context_dim) (text),
  after each self-attention (Rombach et al. 2022, section 3.3). ``context_mask`` (N, L) marks
  the tokens present; an example with none (or ``context=None``) gets no cross-attention: the
  null condition is the unconditional path.

Symbols: N batch, C channels, H x W image, t time or noise level (fed to the sinusoids as
given: pass step numbers, or scale a continuous time, as Ho et al. feed 0..999).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.nn import functional as F
from scratchgen.nn.layers.attention import MultiheadAttention
from scratchgen.nn.layers.class_embedding import ClassEmbedding
from scratchgen.nn.layers.containers import ModuleList
from scratchgen.nn.layers.conv import Conv2d
from scratchgen.nn.layers.dropout import Dropout
from scratchgen.nn.layers.embedding import sinusoidal_embedding
from scratchgen.nn.layers.linear import Linear
from scratchgen.nn.layers.normalization import GroupNorm
from scratchgen.nn.module import Module


def _start_at_zero(module: Module) -> Module:
    for p in module.parameters():
        p.data[...] = 0
    return module


class ResBlock(Module):
    """h = conv(SiLU(GN(x))) + Linear(SiLU(temb)); out = skip(x) + conv(drop(SiLU(GN(h))))."""

    def __init__(self, in_channels: int, out_channels: int, time_dim: int, groups: int,
                 dropout: float, *, rng: np.random.Generator, dtype: Any) -> None:  # fmt: skip
        super().__init__()
        self.norm_1 = GroupNorm(groups, in_channels, dtype=dtype)
        self.conv_1 = Conv2d(in_channels, out_channels, 3, padding=1, rng=rng, dtype=dtype)
        self.time = Linear(time_dim, out_channels, rng=rng, dtype=dtype)
        self.norm_2 = GroupNorm(groups, out_channels, dtype=dtype)
        self.dropout = Dropout(dropout, rng=rng)
        conv_2 = Conv2d(out_channels, out_channels, 3, padding=1, rng=rng, dtype=dtype)
        self.conv_2 = _start_at_zero(conv_2)
        self.skip = (Conv2d(in_channels, out_channels, 1, rng=rng, dtype=dtype)
                     if in_channels != out_channels else None)  # fmt: skip

    def forward(self, x: Tensor, time: Tensor) -> Tensor:
        """``time``: SiLU(temb), (N, time_dim), computed once for all blocks."""
        h = self.conv_1(F.silu(self.norm_1(x)))
        h = h + ad.reshape(self.time(time), time.shape[:1] + (h.shape[1], 1, 1))
        h = self.conv_2(self.dropout(F.silu(self.norm_2(h))))
        return (x if self.skip is None else self.skip(x)) + h


class AttentionBlock(Module):
    """x + proj(attention(GN(x))) over the H W positions of (N, C, H, W): self-attention, or
    cross-attention to a context (N, L, context_dim) when ``context_dim`` is given."""

    def __init__(self, channels: int, num_heads: int, groups: int, context_dim: int | None,
                 *, rng: np.random.Generator, dtype: Any) -> None:  # fmt: skip
        super().__init__()
        if channels % num_heads:
            raise ValueError(f"UNet: {channels} channels do not split into {num_heads} heads")
        self.norm = GroupNorm(groups, channels, dtype=dtype)
        self.attention = MultiheadAttention(channels, num_heads, kdim=context_dim,
                                            vdim=context_dim, rng=rng, dtype=dtype)  # fmt: skip
        _start_at_zero(self.attention.out_proj)

    def forward(self, x: Tensor, context: Tensor | None = None,
                present: np.ndarray | None = None) -> Tensor:  # fmt: skip
        """``present`` (N, L) bool, for cross-attention: the context tokens that exist."""
        n, c, h, w = x.shape
        sequence = ad.transpose(ad.reshape(self.norm(x), (n, c, h * w)), (0, 2, 1))
        if context is None:
            out = self.attention(sequence)
        else:
            out = self.attention(sequence, context, attn_mask=present[:, None, None, :])
            # an example with no token attends to nothing: its residual must add nothing
            out = out * present.any(axis=1)[:, None, None].astype(out.dtype)
        return x + ad.reshape(ad.transpose(out, (0, 2, 1)), (n, c, h, w))


class _Stage(Module):
    """One residual block, then self-attention and cross-attention where configured."""

    def __init__(self, block: ResBlock, attention: AttentionBlock | None,
                 cross: AttentionBlock | None) -> None:  # fmt: skip
        super().__init__()
        self.block, self.attention, self.cross = block, attention, cross

    def forward(self, h: Tensor, time: Tensor, context: Tensor | None,
                present: np.ndarray | None) -> Tensor:  # fmt: skip
        h = self.block(h, time)
        if self.attention is not None:
            h = self.attention(h)
        if self.cross is not None and context is not None:
            h = self.cross(h, context, present)
        return h


class UNet(Module):
    """eps_theta(x, t): see the module docstring for the architecture and its conditioning."""

    def __init__(self, in_channels: int = 1, image_size: int | Sequence[int] = 28,
                 base_channels: int = 32, channel_multipliers: Sequence[int] = (1, 2, 2),
                 num_res_blocks: int = 2, attention_resolutions: Sequence[int] = (7,),
                 num_heads: int = 1, groups: int = 8, dropout: float = 0.0,
                 out_channels: int | None = None, num_classes: int | None = None,
                 learned_null: bool = True, context_dim: int | None = None, *,
                 rng: np.random.Generator, dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        size = (image_size, image_size) if np.ndim(image_size) == 0 else tuple(image_size)
        self.image_size = (int(size[0]), int(size[1]))
        self.in_channels, self.num_classes = in_channels, num_classes
        self.sides = _level_sides(self.image_size, len(channel_multipliers))
        widths = [base_channels * m for m in channel_multipliers]
        for width in (base_channels, *widths):
            if width % groups:
                raise ValueError(f"UNet: {width} channels do not split into {groups} groups")
        self.attention_resolutions = tuple(int(r) for r in attention_resolutions)
        unused = set(self.attention_resolutions) - set(self.sides)
        if unused:
            raise ValueError(
                f"UNet: attention_resolutions {sorted(unused)} are not among the levels' "
                f"heights {self.sides}"
            )
        time_dim = 4 * base_channels
        self.base_channels = base_channels
        self.time_1 = Linear(base_channels, time_dim, rng=rng, dtype=dtype)
        self.time_2 = Linear(time_dim, time_dim, rng=rng, dtype=dtype)
        if num_classes is not None:
            self.class_embedding = ClassEmbedding(num_classes, time_dim, learned_null, rng=rng,
                                                  dtype=dtype, owner="UNet")  # fmt: skip

        def stage(c_in: int, c_out: int, side: int) -> _Stage:
            attend = side in self.attention_resolutions
            return _Stage(
                ResBlock(c_in, c_out, time_dim, groups, dropout, rng=rng, dtype=dtype),
                AttentionBlock(c_out, num_heads, groups, None, rng=rng, dtype=dtype)
                if attend else None,
                AttentionBlock(c_out, num_heads, groups, context_dim, rng=rng, dtype=dtype)
                if attend and context_dim is not None else None,
            )  # fmt: skip

        self.conv_in = Conv2d(in_channels, base_channels, 3, padding=1, rng=rng, dtype=dtype)
        skips, width = [base_channels], base_channels  # channels of each output kept going down
        self.down, self.downsample = ModuleList(), ModuleList()
        for level, (c, side) in enumerate(zip(widths, self.sides)):
            for _ in range(num_res_blocks):
                self.down.append(stage(width, c, side))
                width = c
                skips.append(width)
            if level < len(widths) - 1:
                self.downsample.append(Conv2d(width, width, 3, stride=2, padding=1, rng=rng,
                                              dtype=dtype))  # fmt: skip
                skips.append(width)
        self.middle = ModuleList([stage(width, width, self.sides[-1]),
                                  stage(width, width, -1)])  # fmt: skip
        self.up, self.upsample = ModuleList(), ModuleList()
        for level in reversed(range(len(widths))):
            for _ in range(num_res_blocks + 1):
                self.up.append(stage(width + skips.pop(), widths[level], self.sides[level]))
                width = widths[level]
            if level > 0:
                self.upsample.append(Conv2d(width, width, 3, padding=1, rng=rng, dtype=dtype))
        self.norm_out = GroupNorm(groups, width, dtype=dtype)
        conv_out = Conv2d(width, out_channels or in_channels, 3, padding=1, rng=rng, dtype=dtype)
        self.conv_out = _start_at_zero(conv_out)
        self.num_res_blocks, self.levels = num_res_blocks, len(widths)

    @property
    def dtype(self) -> np.dtype:
        return self.conv_in.weight.dtype

    # ------------------------------------------------------------ conditioning
    def time_embedding(self, t: Any, n: int, y: Any = None) -> Tensor:
        """MLP(sinusoids(t)) (N, 4 base), plus the class embedding when classes are used."""
        t = np.broadcast_to(np.asarray(t.data if isinstance(t, Tensor) else t, np.float64), (n,))
        features = sinusoidal_embedding(t, self.base_channels, dtype=self.dtype)
        temb = self.time_2(F.silu(self.time_1(features)))
        if self.num_classes is None:
            if y is not None:
                raise ValueError("UNet: labels given to a network built without num_classes")
            return temb
        return temb + self.class_embedding(y, n)

    def _context(self, context: Any, context_mask: Any, n: int) -> tuple[Any, Any]:
        if context is None:
            return None, None
        context = ad.astype(ad.as_constant(context), self.dtype)
        if context.ndim != 3 or context.shape[0] != n:
            raise ValueError(f"UNet: context must be ({n}, L, context_dim), got {context.shape}")
        if context_mask is None:
            return context, np.ones(context.shape[:2], dtype=bool)
        present = np.asarray(context_mask, dtype=bool)
        if present.shape != context.shape[:2]:
            raise ValueError(f"UNet: context_mask must be {context.shape[:2]}, got {present.shape}")
        return context, present

    # ------------------------------------------------------------ the network
    def forward(self, x: Any, t: Any, y: Any = None, context: Any = None,
                context_mask: Any = None) -> Tensor:  # fmt: skip
        """eps_theta(x, t): x (N, C, H, W), t a number or (N,), y (N,) labels in
        [0, num_classes] (num_classes: the null class), context (N, L, context_dim) with
        context_mask (N, L) True where a token is present."""
        x = ad.astype(ad.as_constant(x), self.dtype)  # float64 data into a float32 network
        if x.ndim != 4 or x.shape[1] != self.in_channels or x.shape[2:] != self.image_size:
            raise ValueError(
                f"UNet: expected (N, {self.in_channels}, {self.image_size[0]}, "
                f"{self.image_size[1]}) images, got shape {x.shape}"
            )
        n = x.shape[0]
        time = F.silu(self.time_embedding(t, n, y))
        context, present = self._context(context, context_mask, n)
        h = self.conv_in(x)
        skips, down = [h], iter(self.down)
        for level in range(self.levels):
            for _ in range(self.num_res_blocks):
                h = next(down)(h, time, context, present)
                skips.append(h)
            if level < self.levels - 1:
                h = self.downsample[level](h)
                skips.append(h)
        for stage in self.middle:
            h = stage(h, time, context, present)
        up = iter(self.up)
        for level in reversed(range(self.levels)):
            for _ in range(self.num_res_blocks + 1):
                h = next(up)(ad.concatenate([h, skips.pop()], axis=1), time, context, present)
            if level > 0:
                h = self.upsample[self.levels - 1 - level](F.interpolate(h, 2))
        return self.conv_out(F.silu(self.norm_out(h)))

    def attention_sides(self) -> dict[str, list[int]]:
        """The heights at which self- and cross-attention run, block by block (down, middle,
        up), for checking a configuration."""
        stages = [*self.down, *self.middle, *self.up]
        sides = [*np.repeat(self.sides, self.num_res_blocks), self.sides[-1], self.sides[-1],
                 *np.repeat(self.sides[::-1], self.num_res_blocks + 1)]  # fmt: skip
        return {
            "self": [int(s) for s, st in zip(sides, stages) if st.attention is not None],
            "cross": [int(s) for s, st in zip(sides, stages) if st.cross is not None],
        }


def _level_sides(image_size: tuple[int, int], levels: int) -> list[int]:
    """The height at each level; every level but the last halves the image exactly."""
    h, w = image_size
    sides = []
    for level in range(levels):
        sides.append(h)
        if level < levels - 1:
            if h % 2 or w % 2:
                raise ValueError(
                    f"UNet: an image of {image_size[0]} x {image_size[1]} cannot be halved "
                    f"{levels - 1} times ({h} x {w} at level {level}); use another image size "
                    "or fewer channel_multipliers"
                )
            h, w = h // 2, w // 2
    return sides
