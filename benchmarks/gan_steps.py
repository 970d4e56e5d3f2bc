"""One training step of a GAN, both players, ours against the same architecture in PyTorch.

* DCGAN on MNIST-shaped data (1 x 28 x 28, batch 64, latent 64, 64 filters), non-saturating
  loss: the generator Linear(64 -> 128 x 7 x 7), ReLU, ConvTranspose 128 -> 64 -> 1 (4x4,
  stride 2) with ReLU between and tanh out; the discriminator Conv 1 -> 64 -> 128 (4x4, stride
  2) with LeakyReLU(0.2), then Linear(128 x 7 x 7 -> 1). One step is one update of each: the
  discriminator on a batch of data and as many samples (drawn without gradients), then the
  generator on a fresh batch of samples; Adam 2e-4, betas (0.5, 0.999). Ours is timed through
  the trainer's own step (``Trainer._one_step``: the batch, both updates, the guards).
* WGAN-GP with the same players: the critic's update adds 10 x the gradient penalty, whose
  gradient with create_graph makes the backward pass go through the convolutions twice.

The PyTorch players below have the parameters in our order, and ``python -m
benchmarks.gan_steps --check`` copies our weights in and compares both players' losses at
fixed noise (and fixed interpolation weights for the penalty).
"""

from __future__ import annotations

import sys

import numpy as np

from benchmarks.timing import Row, seconds_per_call
from scratchgen import models
from scratchgen.data import DataInfo, Dataset
from scratchgen.train import TrainConfig, Trainer

DCGAN = "DCGAN step, MNIST 28x28 (64 filters, batch 64), both players"
WGAN_GP = "WGAN-GP step, the same players, critic with the gradient penalty"
MNIST_INFO = DataInfo((1, 28, 28), "categorical", levels=256)
SETTINGS = {"latent": 64, "filters": 64}
BATCH = 64


def _data() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (BATCH, 1, 28, 28))


def ours(loss: str):
    return models.create("gan", MNIST_INFO, loss=loss, **SETTINGS)


def _our_step(loss: str):
    """The trainer's step, one update of each player (n_critic = 1, as the PyTorch side)."""
    model = models.create("gan", MNIST_INFO, loss=loss, n_critic=1, **SETTINGS)
    images = Dataset("random", _data(), _data()[:2], MNIST_INFO)
    config = TrainConfig(batch_size=BATCH, lr_d=2e-4, lr_g=2e-4, betas_d=[0.5, 0.999],
                         betas_g=[0.5, 0.999])  # fmt: skip
    return Trainer(model, images, config, progress=False)._one_step


def measure() -> list[Row]:
    return [Row(DCGAN, seconds_per_call(_our_step("ns"), 1, 3)),
            Row(WGAN_GP, seconds_per_call(_our_step("wgan_gp"), 1, 3))]  # fmt: skip


def torch_players(torch):
    """The PyTorch generator and discriminator (see the module docstring)."""
    nn, f, latent = torch.nn, SETTINGS["filters"], SETTINGS["latent"]

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = nn.Linear(latent, 2 * f * 7 * 7)
            self.up1 = nn.ConvTranspose2d(2 * f, f, 4, 2, 1)
            self.up2 = nn.ConvTranspose2d(f, 1, 4, 2, 1)

        def forward(self, z):
            h = torch.relu(self.inp(z).view(-1, 2 * f, 7, 7))
            return torch.tanh(self.up2(torch.relu(self.up1(h))))

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(1, f, 4, 2, 1), nn.Conv2d(f, 2 * f, 4, 2, 1)
            self.out = nn.Linear(2 * f * 7 * 7, 1)

        def forward(self, x):
            h = nn.functional.leaky_relu(self.c1(x), 0.2)
            h = nn.functional.leaky_relu(self.c2(h), 0.2)
            return self.out(h.flatten(1)).view(-1)

    return Generator(), Discriminator()


def torch_d_loss(torch, G, D, real, z, epsilon=None):
    """The discriminator's loss: non-saturating, or WGAN-GP's when the interpolation weights
    epsilon are given."""
    with torch.no_grad():
        fake = G(z)
    if epsilon is None:
        softplus = torch.nn.functional.softplus
        return softplus(-D(real)).mean() + softplus(D(fake)).mean()
    e = epsilon.view(-1, 1, 1, 1)
    x_hat = (e * real + (1 - e) * fake).requires_grad_(True)
    (g,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
    norms = torch.sqrt(g.flatten(1).pow(2).sum(1) + 1e-12)
    return D(fake).mean() - D(real).mean() + 10.0 * ((norms - 1) ** 2).mean()


def torch_g_loss(torch, G, D, z, gp: bool):
    v_fake = D(G(z))
    return -v_fake.mean() if gp else torch.nn.functional.softplus(-v_fake).mean()


def _torch_step(torch, loss: str, real):
    G, D = torch_players(torch)
    adam = {"d": torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999)),
            "g": torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))}  # fmt: skip
    gp = loss == "wgan_gp"

    def update(name, player, loss):  # as our trainer: the gradient of this player's only
        params = list(player.parameters())
        for p, g in zip(params, torch.autograd.grad(loss, params)):
            p.grad = g
        adam[name].step()

    def run():
        z = torch.randn(BATCH, SETTINGS["latent"])
        update("d", D, torch_d_loss(torch, G, D, real, z, torch.rand(BATCH) if gp else None))
        update("g", G, torch_g_loss(torch, G, D, torch.randn(BATCH, SETTINGS["latent"]), gp))

    return run


def torch_times(torch) -> dict[str, float]:
    real = torch.tensor(2.0 * _data() / 255.0 - 1.0, dtype=torch.float32)
    return {DCGAN: seconds_per_call(_torch_step(torch, "ns", real), 1, 3),
            WGAN_GP: seconds_per_call(_torch_step(torch, "wgan_gp", real), 1, 3)}  # fmt: skip


def check() -> None:
    """Copy our weights into the PyTorch players and compare both losses at the same z (and
    the same epsilon for the penalty)."""
    import torch

    import autodiff as ad
    from scratchgen.models.gan import OBJECTIVES, gradient_penalty

    images = _data()
    real = (2.0 * images / 255.0 - 1.0).astype(np.float32)
    rng = np.random.default_rng(1)
    z = rng.standard_normal((BATCH, SETTINGS["latent"])).astype(np.float32)
    epsilon = rng.uniform(size=BATCH).astype(np.float32)
    for loss in ("ns", "wgan_gp"):
        model = ours(loss)
        G, D = torch_players(torch)
        for mine, theirs in ((model.generator, G), (model.discriminator, D)):
            mine_params, their_params = list(mine.parameters()), list(theirs.parameters())
            assert [p.shape for p in mine_params] == [tuple(p.shape) for p in their_params]
            for a, b in zip(mine_params, their_params):
                b.data = torch.tensor(a.data)
        objective = OBJECTIVES[loss]
        with ad.no_grad():
            fake = model.generator(z)
        d_mine = objective.discriminator(model.discriminator(real), model.discriminator(fake))
        if loss == "wgan_gp":
            d_mine = d_mine + 10.0 * gradient_penalty(model.discriminator, real, fake.data,
                                                      epsilon=epsilon)  # fmt: skip
        g_mine = objective.generator(model.discriminator(model.generator(z)))
        gp = loss == "wgan_gp"
        d_theirs = torch_d_loss(
            torch, G, D, torch.tensor(real), torch.tensor(z), torch.tensor(epsilon) if gp else None
        )
        g_theirs = torch_g_loss(torch, G, D, torch.tensor(z), gp)
        for name, a, b in (("discriminator", d_mine.item(), d_theirs.item()),
                           ("generator", g_mine.item(), g_theirs.item())):  # fmt: skip
            print(f"{loss} {name} loss: ours {a:.6f}, PyTorch {b:.6f}, relative difference "
                  f"{abs(a - b) / abs(b):.1e}")  # fmt: skip


if __name__ == "__main__" and "--check" in sys.argv:
    check()
