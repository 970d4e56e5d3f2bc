"""One training epoch of whole models, ours against the same architecture in PyTorch.

* PixelCNN on the 8x8 digits with 17 levels: 7x7 mask A, 4 residual 3x3 mask-B blocks of 32
  filters, 1x1 heads, a softmax over the levels; 22 Adam steps of 64 images.
* The character Transformer on the grammar text: 2 pre-norm blocks, d = 64, 4 heads, windows of
  64 characters; 97 Adam steps of 32 windows.

The PyTorch versions are written out below with the same shapes, masks and initial scale, so
that the two epochs do the same arithmetic. The suite also runs the UNet's rows
(``benchmarks.unet_steps``): a DDPM training step and 100 sampling steps.
"""

from __future__ import annotations

from benchmarks import unet_steps
from benchmarks.timing import Row, seconds_per_call
from scratchgen import data, models, optim

PIXELCNN = "PixelCNN epoch, digits (22 steps of 64)"
TRANSFORMER = "Transformer epoch, grammar (97 steps of 32)"


def _epoch(model, optimizer, x, batch: int):
    """One pass over x in batches; ours and PyTorch's share the API this needs (model.loss,
    optimizer.zero_grad / step, loss.backward)."""

    def run():
        for start in range(0, len(x) - batch + 1, batch):
            loss = model.loss(x[start : start + batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    return run


def measure() -> list[Row]:
    digits, text = data.load("digits"), data.load("grammar")
    pixelcnn = models.create("pixelcnn", digits.info, filters=32, layers=4, kernel_size=7)
    lm = models.create("transformer", text.info, d_model=64, n_head=4, n_layer=2)
    adam = [optim.Adam(list(m.parameters()), 1e-3) for m in (pixelcnn, lm)]
    return [
        Row(PIXELCNN, seconds_per_call(_epoch(pixelcnn, adam[0], digits.train, 64), 1, 3)),
        Row(TRANSFORMER, seconds_per_call(_epoch(lm, adam[1], text.train, 32), 1, 3)),
        *unet_steps.measure(),
    ]


def torch_times(torch) -> dict[str, float]:
    nn, F = torch.nn, torch.nn.functional
    digits, text = data.load("digits"), data.load("grammar")

    class MaskedConv(nn.Conv2d):
        def __init__(self, c_in, c_out, k, kind):
            super().__init__(c_in, c_out, k, padding=k // 2)
            mask = torch.zeros_like(self.weight)
            mask[:, :, : k // 2] = 1
            mask[:, :, k // 2, : k // 2 + (kind == "B")] = 1
            self.register_buffer("mask", mask)

        def forward(self, x):
            return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)

    class PixelCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = MaskedConv(1, 32, 7, "A")
            self.blocks = nn.ModuleList(MaskedConv(32, 32, 3, "B") for _ in range(4))
            self.h1, self.h2 = MaskedConv(32, 32, 1, "B"), MaskedConv(32, 17, 1, "B")

        def loss(self, x):
            h = self.inp(2 * x / 16 - 1)
            for block in self.blocks:
                h = h + block(F.relu(h))
            logits = self.h2(F.relu(self.h1(F.relu(h))))
            return F.cross_entropy(logits, x[:, 0].long(), reduction="sum") / len(x)

    class Block(nn.Module):
        def __init__(self, d, heads):
            super().__init__()
            self.ln1, self.ln2, self.heads = nn.LayerNorm(d), nn.LayerNorm(d), heads
            self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU("tanh"), nn.Linear(4 * d, d))

        def forward(self, x):
            n, t, d = x.shape
            h = self.ln1(x)
            q, k, v = (
                f(h).view(n, t, self.heads, -1).transpose(1, 2) for f in (self.q, self.k, self.v)
            )
            a = (
                F.scaled_dot_product_attention(q, k, v, is_causal=True)
                .transpose(1, 2)
                .reshape(n, t, d)
            )
            x = x + self.o(a)
            return x + self.mlp(self.ln2(x))

    class LM(nn.Module):
        def __init__(self, vocab, length, d=64):
            super().__init__()
            self.tok, self.pos = nn.Embedding(vocab + 1, d), nn.Embedding(length, d)
            self.blocks = nn.ModuleList(Block(d, 4) for _ in range(2))
            self.ln, self.head, self.vocab = nn.LayerNorm(d), nn.Linear(d, vocab), vocab

        def loss(self, x):
            inputs = torch.cat([torch.full((len(x), 1), self.vocab), x[:, :-1]], 1)
            h = self.tok(inputs) + self.pos(torch.arange(x.shape[1]))
            for block in self.blocks:
                h = block(h)
            logits = self.head(self.ln(h))
            return F.cross_entropy(logits.transpose(1, 2), x, reduction="sum") / len(x)

    pixel_x = torch.tensor(digits.train, dtype=torch.float32)
    text_x = torch.tensor(text.train, dtype=torch.long)
    pixelcnn, lm = PixelCNN(), LM(text.info.levels, text.info.shape[0])
    adam = [torch.optim.Adam(m.parameters(), 1e-3) for m in (pixelcnn, lm)]
    return {
        PIXELCNN: seconds_per_call(_epoch(pixelcnn, adam[0], pixel_x, 64), 1, 3),
        TRANSFORMER: seconds_per_call(_epoch(lm, adam[1], text_x, 32), 1, 3),
        **unet_steps.torch_times(torch),
    }
