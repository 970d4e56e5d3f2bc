"""The UNet of ``scratchgen.nn.unet`` (base 32, multipliers 1, 2, 2, two residual blocks per
level, attention at 7x7, one head, GroupNorm of 8 groups) on MNIST-shaped data, batch 64,
against the same network in PyTorch:

* one DDPM training step (Ho et al. 2020, algorithm 1): t uniform in 0..999, the linear
  schedule's x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, the loss mean ||eps - eps_theta||^2,
  backward and an Adam step;
* 100 sampling steps, forward only without gradients (the network's calls of a 100-step
  sampler; the sampler's own arithmetic is not timed).

The PyTorch network below registers its parameters in our order; ``python -m
benchmarks.unet_steps --check`` copies our weights into it (after drawing them at random: ours
start some layers at zero) and compares the two outputs. ``--memory`` prints the peak resident
set of each side's training steps, each measured in a fresh process.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from benchmarks.timing import Row, seconds_per_call

TRAIN = "UNet DDPM step, MNIST 28x28 (base 32, mults 1,2,2, attention 7x7, batch 64)"
SAMPLE = "UNet 100 sampling steps (forward only, no_grad), the same UNet, batch 64"
BATCH, STEPS = 64, 1000
CONFIG = {"in_channels": 1, "image_size": 28, "base_channels": 32,
          "channel_multipliers": (1, 2, 2), "num_res_blocks": 2, "attention_resolutions": (7,),
          "num_heads": 1, "groups": 8}  # fmt: skip


def _schedule() -> np.ndarray:
    """abar_t for Ho et al.'s linear betas, 1e-4 to 0.02 over 1000 steps."""
    return np.cumprod(1 - np.linspace(1e-4, 0.02, STEPS))


def _data() -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, (BATCH, 1, 28, 28)).astype(np.float32)


def ours():
    from scratchgen.nn.unet import UNet

    return UNet(**CONFIG, rng=np.random.default_rng(0))


def _our_step():
    import autodiff as ad
    from scratchgen import optim

    net, x0, abar, rng = ours(), _data(), _schedule(), np.random.default_rng(1)
    adam = optim.Adam(list(net.parameters()), 2e-4)

    def step():
        t = rng.integers(0, STEPS, BATCH)
        eps = rng.standard_normal(x0.shape).astype(np.float32)
        a = abar[t].astype(np.float32)[:, None, None, None]
        x_t = np.sqrt(a) * x0 + np.sqrt(1 - a) * eps
        loss = ad.mean((eps - net(x_t, t)) ** 2)
        adam.zero_grad()
        loss.backward()
        adam.step()

    return step


def _our_sampling():
    import autodiff as ad

    net, x = ours(), _data()

    def run():
        with ad.no_grad():
            for t in np.linspace(STEPS - 1, 0, 100).round():
                net(x, np.full(BATCH, t))

    return run


def measure() -> list[Row]:
    return [Row(TRAIN, seconds_per_call(_our_step(), 1, 3)),
            Row(SAMPLE, seconds_per_call(_our_sampling(), 1, 2))]  # fmt: skip


def torch_unet(torch):
    """The same UNet in PyTorch, parameters registered in our order."""
    nn, F = torch.nn, torch.nn.functional
    base, groups, time_dim = CONFIG["base_channels"], CONFIG["groups"], 4 * CONFIG["base_channels"]

    class ResBlock(nn.Module):
        def __init__(self, c_in, c_out):
            super().__init__()
            self.norm_1, self.conv_1 = nn.GroupNorm(groups, c_in), nn.Conv2d(c_in, c_out, 3, 1, 1)
            self.time = nn.Linear(time_dim, c_out)
            self.norm_2, self.conv_2 = nn.GroupNorm(groups, c_out), nn.Conv2d(c_out, c_out, 3, 1, 1)
            self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else None

        def forward(self, x, time):
            h = self.conv_1(F.silu(self.norm_1(x))) + self.time(time)[:, :, None, None]
            h = self.conv_2(F.silu(self.norm_2(h)))
            return (x if self.skip is None else self.skip(x)) + h

    class Attention(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.norm = nn.GroupNorm(groups, c)
            self.q, self.k, self.v, self.o = (nn.Linear(c, c) for _ in range(4))

        def forward(self, x):
            n, c, h, w = x.shape
            s = self.norm(x).flatten(2).transpose(1, 2)
            q, k, v = (f(s)[:, None] for f in (self.q, self.k, self.v))
            out = self.o(F.scaled_dot_product_attention(q, k, v)[:, 0])
            return x + out.transpose(1, 2).reshape(n, c, h, w)

    class Stage(nn.Module):
        def __init__(self, c_in, c_out, attend):
            super().__init__()
            self.block, self.attention = ResBlock(c_in, c_out), Attention(c_out) if attend else None

        def forward(self, h, time):
            h = self.block(h, time)
            return h if self.attention is None else self.attention(h)

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            mults, blocks = CONFIG["channel_multipliers"], CONFIG["num_res_blocks"]
            sides = [28 // 2**i for i in range(len(mults))]
            widths = [base * m for m in mults]
            self.time_1, self.time_2 = nn.Linear(base, time_dim), nn.Linear(time_dim, time_dim)
            self.conv_in = nn.Conv2d(1, base, 3, 1, 1)
            self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
            skips, width = [base], base
            for level, (c, side) in enumerate(zip(widths, sides)):
                for _ in range(blocks):
                    self.down.append(Stage(width, c, side == 7))
                    width = c
                    skips.append(width)
                if level < len(widths) - 1:
                    self.downsample.append(nn.Conv2d(width, width, 3, 2, 1))
                    skips.append(width)
            self.middle = nn.ModuleList([Stage(width, width, True), Stage(width, width, False)])
            self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
            for level in reversed(range(len(widths))):
                for _ in range(blocks + 1):
                    self.up.append(Stage(width + skips.pop(), widths[level], sides[level] == 7))
                    width = widths[level]
                if level > 0:
                    self.upsample.append(nn.Conv2d(width, width, 3, 1, 1))
            self.norm_out, self.conv_out = nn.GroupNorm(groups, width), nn.Conv2d(width, 1, 3, 1, 1)
            self.levels, self.blocks = len(widths), blocks

        def forward(self, x, t):
            half = base // 2
            freq = torch.exp(-np.log(10_000.0) * torch.arange(half) / half)
            angles = t.float()[:, None] * freq
            features = torch.cat([torch.sin(angles), torch.cos(angles)], 1)
            time = F.silu(self.time_2(F.silu(self.time_1(features))))
            h = self.conv_in(x)
            skips, down = [h], iter(self.down)
            for level in range(self.levels):
                for _ in range(self.blocks):
                    h = next(down)(h, time)
                    skips.append(h)
                if level < self.levels - 1:
                    h = self.downsample[level](h)
                    skips.append(h)
            for stage in self.middle:
                h = stage(h, time)
            up = iter(self.up)
            for level in reversed(range(self.levels)):
                for _ in range(self.blocks + 1):
                    h = next(up)(torch.cat([h, skips.pop()], 1), time)
                if level > 0:
                    h = self.upsample[self.levels - 1 - level](F.interpolate(h, scale_factor=2))
            return self.conv_out(F.silu(self.norm_out(h)))

    return UNet()


def _torch_step(torch):
    net, x0 = torch_unet(torch), torch.tensor(_data())
    abar = torch.tensor(_schedule(), dtype=torch.float32)
    adam = torch.optim.Adam(net.parameters(), 2e-4)

    def step():
        t = torch.randint(0, STEPS, (BATCH,))
        eps = torch.randn_like(x0)
        a = abar[t][:, None, None, None]
        loss = ((eps - net(a.sqrt() * x0 + (1 - a).sqrt() * eps, t)) ** 2).mean()
        adam.zero_grad()
        loss.backward()
        adam.step()

    return step


def _torch_sampling(torch):
    net, x = torch_unet(torch), torch.tensor(_data())

    def run():
        with torch.no_grad():
            for t in np.linspace(STEPS - 1, 0, 100).round():
                net(x, torch.full((BATCH,), float(t)))

    return run


def torch_times(torch) -> dict[str, float]:
    return {TRAIN: seconds_per_call(_torch_step(torch), 1, 3),
            SAMPLE: seconds_per_call(_torch_sampling(torch), 1, 2)}  # fmt: skip


def check() -> None:
    """Our weights (drawn at random) into the PyTorch network; the two outputs compared."""
    import torch

    net, rng = ours(), np.random.default_rng(2)
    theirs = torch_unet(torch)
    mine, their_params = list(net.parameters()), list(theirs.parameters())
    assert [p.shape for p in mine] == [tuple(p.shape) for p in their_params]
    for a, b in zip(mine, their_params):
        a.data[...] = 0.2 * rng.standard_normal(a.shape)
        b.data = torch.tensor(a.data)
    x, t = _data(), rng.integers(0, STEPS, BATCH)
    out = net(x, t).data
    reference = theirs(torch.tensor(x), torch.tensor(t)).detach().numpy()
    scale = np.abs(reference).max()
    print(f"UNet output: largest difference {np.abs(out - reference).max() / scale:.1e} of the "
          f"largest output ({scale:.2f}), {len(mine)} parameter arrays copied")  # fmt: skip


MEMORY = """
import resource, sys
sys.argv = ["x"]
from benchmarks import unet_steps
{setup}
for _ in range(3):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def memory() -> None:
    """Peak resident set (MB) over three training steps, each side in a fresh process."""
    sides = {"ours": "step = unet_steps._our_step()",
             "PyTorch": "import torch\nstep = unet_steps._torch_step(torch)"}  # fmt: skip
    peaks = {}
    for name, setup in sides.items():
        result = subprocess.run([sys.executable, "-c", MEMORY.format(setup=setup)],
                                capture_output=True, text=True, check=True)  # fmt: skip
        peaks[name] = int(result.stdout.split()[-1]) / 1024
    print(
        f"peak resident set of the UNet training step: ours {peaks['ours']:.0f} MB, "
        f"PyTorch {peaks['PyTorch']:.0f} MB, ratio {peaks['ours'] / peaks['PyTorch']:.2f}"
    )


if __name__ == "__main__":
    if "--check" in sys.argv:
        check()
    if "--memory" in sys.argv:
        memory()
