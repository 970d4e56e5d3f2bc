"""One training step of two flows, ours against the same architecture in PyTorch.

* Glow on MNIST-shaped data (1 x 28 x 28, 256 levels, batch 64): uniform dequantisation, the
  logit (lambda = 0.05), two levels of the multi-scale architecture (28 -> 14 -> 7), 8 steps
  each of ActNorm, an LU-parametrised 1x1 convolution and an affine coupling on half the
  channels, whose conditioner is a 3x3 convolution to 32 filters, one residual block and a
  zero-initialised 3x3 convolution to 2C; log-scales bound by 3 tanh(a / 3).
* RealNVP on 2-D data (batch 256): 4 affine couplings with half masks, MLP conditioners 2 ->
  64 -> 64 -> 4.

The PyTorch versions below do the same arithmetic: the coupling's conditioner reads the masked
input b * x over all channels and its output is masked (as ours), the 1x1 convolution is the
matrix product with W = P (L + I)(U + diag(sign exp(log s))) built each step, and the loss is
the mean negative dequantised log-likelihood with every term. Checked: with our weights copied
in and moved off their identity start, the two losses agree to 1e-6 relative
(``python -m benchmarks.flow_steps --check``).
The data are random levels from a fixed seed: the time of a step does not depend on them.
"""

from __future__ import annotations

import sys

import numpy as np

from benchmarks.timing import Row, seconds_per_call
from scratchgen import models, optim
from scratchgen.data import DataInfo

GLOW = "Glow step, MNIST 28x28 (2 levels x 8 steps, batch 64)"
REALNVP = "RealNVP step, 2-D (4 couplings, batch 256)"
MNIST_INFO = DataInfo((1, 28, 28), "categorical", levels=256)
GLOW_SETTINGS = {"depth": 8, "scales": 2, "filters": 32, "blocks": 1}
MOONS_INFO = DataInfo((2,), "continuous")


def _data():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (64, 1, 28, 28)).astype(np.float32)
    points = rng.standard_normal((256, 2)).astype(np.float32)
    return images, points


def _step(model, optimizer, x):
    def run():
        loss = model.loss(x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return run


def ours():
    images, points = _data()
    glow = models.create("glow", MNIST_INFO, **GLOW_SETTINGS)
    glow.initialize(images, np.random.default_rng(0))
    realnvp = models.create("realnvp", MOONS_INFO)
    return glow, realnvp, images, points


def measure() -> list[Row]:
    glow, realnvp, images, points = ours()
    adam = [optim.Adam(list(m.parameters()), 1e-3) for m in (glow, realnvp)]
    return [Row(GLOW, seconds_per_call(_step(glow, adam[0], images), 1, 3)),
            Row(REALNVP, seconds_per_call(_step(realnvp, adam[1], points), 0.3, 5))]  # fmt: skip


def torch_models(torch):
    """The PyTorch Glow and RealNVP (see the module docstring)."""
    nn = torch.nn

    class ActNorm(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.loc, self.log_scale = nn.Parameter(torch.zeros(c)), nn.Parameter(torch.zeros(c))

        def forward(self, x):
            shape = (1, -1) + (1,) * (x.dim() - 2)
            pixels = x[0, 0].numel()
            z = (x - self.loc.view(shape)) * torch.exp(-self.log_scale.view(shape))
            return z, -pixels * self.log_scale.sum().expand(len(x))

    class Conv1x1(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.register_buffer("P", torch.eye(c))
            self.L, self.U = nn.Parameter(torch.zeros(c, c)), nn.Parameter(torch.zeros(c, c))
            self.log_s = nn.Parameter(torch.zeros(c))
            self.register_buffer("sign", torch.ones(c))
            self.register_buffer("lower", torch.tril(torch.ones(c, c), -1))

        def forward(self, x):
            eye = torch.eye(len(self.log_s))
            W = (
                self.P
                @ (self.L * self.lower + eye)
                @ (self.U * self.lower.T + torch.diag(self.sign * torch.exp(self.log_s)))
            )
            n, c = x.shape[:2]
            z = (W @ x.reshape(n, c, -1)).reshape(x.shape)
            return z, x[0, 0].numel() * self.log_s.sum().expand(n)

    def zero(layer):
        nn.init.zeros_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    class ConvNet(nn.Module):
        def __init__(self, c, filters=32):
            super().__init__()
            self.inp = nn.Conv2d(c, filters, 3, padding=1)
            self.b1, self.b2 = (nn.Conv2d(filters, filters, 3, padding=1) for _ in range(2))
            self.out = zero(nn.Conv2d(filters, 2 * c, 3, padding=1))

        def forward(self, x):
            h = self.inp(x)
            h = h + self.b2(torch.relu(self.b1(torch.relu(h))))
            return self.out(torch.relu(h))

    class MLPNet(nn.Module):
        def __init__(self, d, hidden=64):
            super().__init__()
            self.a, self.b = nn.Linear(d, hidden), nn.Linear(hidden, hidden)
            self.out = zero(nn.Linear(hidden, 2 * d))

        def forward(self, x):
            return self.out(torch.relu(self.b(torch.relu(self.a(x)))))

    class Coupling(nn.Module):
        def __init__(self, mask, net):
            super().__init__()
            self.register_buffer("mask", torch.tensor(mask, dtype=torch.float32))
            self.net = net

        def forward(self, x):
            b = self.mask
            theta = self.net(x * b).reshape((len(x), 2) + x.shape[1:])
            alpha = 3 * torch.tanh(theta[:, 1] / 3)
            z = (x - theta[:, 0]) * torch.exp(-alpha)
            return x * b + z * (1 - b), (-alpha * (1 - b)).flatten(1).sum(1)

    def squeeze(x):
        n, c, h, w = x.shape
        x = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
        return x.reshape(n, 4 * c, h // 2, w // 2)

    def unsqueeze(z):
        n, c4, h, w = z.shape
        z = z.reshape(n, c4 // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
        return z.reshape(n, c4 // 4, 2 * h, 2 * w)

    class Level(nn.Module):
        def __init__(self, c, steps, inner):
            super().__init__()
            c4 = 4 * c
            mask = np.zeros((c4, 1, 1))
            mask[: c4 // 2] = 1
            layers = []
            for i in range(steps):
                m = mask if i % 2 == 0 else 1 - mask
                layers += [ActNorm(c4), Conv1x1(c4), Coupling(m, ConvNet(c4))]
            self.layers, self.inner = nn.ModuleList(layers), inner

        def forward(self, x):
            h, total = squeeze(x), 0
            for layer in self.layers:
                h, logdet = layer(h)
                total = total + logdet
            half = h.shape[1] // 2
            kept, rest = h[:, :half], h[:, half:]
            if self.inner is not None:
                rest, logdet = self.inner(rest)
                total = total + logdet
            return unsqueeze(torch.cat([kept, rest], 1)), total

    class Glow(nn.Module):
        def __init__(self):
            super().__init__()
            self.flow = Level(1, 8, Level(2, 8, None))

        def loss(self, x, u=None):
            y = (x + (torch.rand(x.shape) if u is None else u)) / 256
            s = 0.05 + 0.9 * y
            logit = torch.log(s) - torch.log(1 - s)
            logit_det = (np.log(0.9) - torch.log(s) - torch.log(1 - s)).flatten(1).sum(1)
            z, logdet = self.flow(logit)
            log_pz = -0.5 * (z**2).flatten(1).sum(1) - 0.5 * 784 * np.log(2 * np.pi)
            return -(log_pz + logdet + logit_det - 784 * np.log(256)).mean()

    class RealNVP(nn.Module):
        def __init__(self):
            super().__init__()
            masks = [np.array([1.0, 0.0]), np.array([0.0, 1.0])]
            self.layers = nn.ModuleList(Coupling(masks[i % 2], MLPNet(2)) for i in range(4))

        def loss(self, x):
            total = 0
            for layer in self.layers:
                x, logdet = layer(x)
                total = total + logdet
            log_pz = -0.5 * (x**2).sum(1) - np.log(2 * np.pi)
            return -(log_pz + total).mean()

    return Glow(), RealNVP()


def torch_times(torch) -> dict[str, float]:
    images, points = _data()
    glow, realnvp = torch_models(torch)
    adam = [torch.optim.Adam(m.parameters(), 1e-3) for m in (glow, realnvp)]
    images, points = torch.tensor(images), torch.tensor(points)
    return {GLOW: seconds_per_call(_step(glow, adam[0], images), 1, 3),
            REALNVP: seconds_per_call(_step(realnvp, adam[1], points), 0.3, 5)}  # fmt: skip


def check() -> None:
    """Copy our weights (and the 1x1 convolutions' permutations and signs) into the PyTorch
    models, whose parameters come in the same order, and compare the losses at fixed noise."""
    import torch

    from scratchgen.bijections import InvertibleConv1x1

    glow, realnvp, images, points = ours()
    t_glow, t_realnvp = torch_models(torch)
    rng = np.random.default_rng(2)
    for model in (glow, realnvp):  # off the identity start, so every conditioner counts
        for p in model.parameters():
            p.data += (0.02 * rng.standard_normal(p.data.shape)).astype(p.data.dtype)
    for mine, theirs in ((glow, t_glow), (realnvp, t_realnvp)):
        mine_params, their_params = list(mine.parameters()), list(theirs.parameters())
        assert [p.shape for p in mine_params] == [tuple(p.shape) for p in their_params]
        for a, b in zip(mine_params, their_params):
            b.data = torch.tensor(a.data)
    ours_1x1 = [m for _, m in glow.named_modules() if isinstance(m, InvertibleConv1x1)]
    theirs_1x1 = [m for m in t_glow.modules() if hasattr(m, "log_s")]
    for a, b in zip(ours_1x1, theirs_1x1, strict=True):
        b.P, b.sign = torch.tensor(a.P), torch.tensor(a.sign_s)
    u = np.random.default_rng(1).random(images.shape).astype(np.float32)
    with torch.no_grad():
        theirs = (float(t_glow.loss(torch.tensor(images), torch.tensor(u))),
                  float(t_realnvp.loss(torch.tensor(points))))  # fmt: skip
    mine = (-float(np.mean(sum(t.data for t in glow.log_prob_terms(images, u=u).values()))),
            realnvp.loss(points).item())  # fmt: skip
    for name, a, b in zip(("Glow", "RealNVP"), mine, theirs):
        print(f"{name} loss: ours {a:.6f}, PyTorch {b:.6f}, relative difference "
              f"{abs(a - b) / abs(b):.1e}")  # fmt: skip


if __name__ == "__main__" and "--check" in sys.argv:
    check()
