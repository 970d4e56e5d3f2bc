"""Data that needs no network, and loaders for the standard sets.

``load(name)`` returns a ``Dataset`` (``.train``, ``.test``, ``.info``); ``available()`` lists
the names; a path to a ``.npy``/``.npz`` file or a text file also loads; ``from_array`` wraps
an array of your own. Everything is generated from fixed seeds, so every machine sees the same
numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from scratchgen.data import digits as _digits
from scratchgen.data import files as _files
from scratchgen.data import shapes as _shapes
from scratchgen.data import text as _text
from scratchgen.data import toy2d
from scratchgen.data import waves as _waves
from scratchgen.data.dataset import DataInfo, Dataset, batch_indices, from_array
from scratchgen.data.files import DataError, data_dir, read_idx
from scratchgen.data.text import decode, encode


def _toy(name: str, seed: int) -> Callable[[], Dataset]:
    sampler, log_density = toy2d.TOYS[name]

    def build() -> Dataset:
        train = sampler(10_000, np.random.default_rng(seed))
        test = sampler(5_000, np.random.default_rng(seed + 100))
        modes = {"modes": toy2d.MODES[name]} if name in toy2d.MODES else {}
        return Dataset(name, train, test, DataInfo((2,), "continuous"), log_density=log_density,
                       extras=modes)  # fmt: skip

    return build


_REGISTRY: dict[str, tuple[Callable[[], Dataset], str]] = {
    **{
        name: (
            _toy(name, seed),
            "2-D toy density" + (", exact log-density" if toy2d.TOYS[name][1] else ""),
        )
        for seed, name in enumerate(toy2d.TOYS)
    },
    "digits": (_digits.digits, "8x8 handwritten digits, 17 grey levels (scikit-learn)"),
    "digits_binary": (_digits.digits_binary, "8x8 digits thresholded to black and white"),
    "shapes": (_shapes.shapes, "16x16 RGB scenes of shapes, with captions"),
    "shapes_red_blue": (
        _shapes.red_blue,
        "the shapes' scenes in red and in blue: two domains for translation, the test set paired",
    ),
    "grammar": (_text.grammar_text, "text from a stochastic grammar, exact entropy rate"),
    "waves": (_waves.waves, "synthetic waveforms, mu-law quantised to 64 levels (WaveNet)"),
    "mnist": (lambda: _files.mnist_family("mnist"), "MNIST, 28x28, 256 grey levels (IDX files)"),
    "fashion_mnist": (lambda: _files.mnist_family("fashion-mnist"), "Fashion-MNIST (IDX files)"),
    "binarized_mnist": (_files.binarized_mnist, "the fixed binarized MNIST (Larochelle & Murray)"),
    "tiny_shakespeare": (
        lambda: _text.text_file(data_dir() / "text" / "tinyshakespeare" / "input.txt"),
        "tiny Shakespeare, characters",
    ),
}


def available() -> dict[str, str]:
    """Dataset names and one-line descriptions."""
    return {name: description for name, (_, description) in _REGISTRY.items()}


def load(name: str) -> Dataset:
    """A dataset by name, or from a path to a .npy/.npz array file or a text file."""
    if name in _REGISTRY:
        dataset = _REGISTRY[name][0]()
        dataset.name = name
        return dataset
    path = Path(name)
    if path.suffix in (".npy", ".npz"):
        if not path.exists():
            raise DataError(f"{path}: no such file")
        return _files.load_array_file(path)
    if path.suffix in (".txt", ".text") or (path.exists() and path.is_file()):
        if not path.exists():
            raise DataError(f"{path}: no such file")
        return _text.text_file(path)
    raise DataError(
        f"unknown dataset {name!r}: choose from {', '.join(_REGISTRY)}, or give a path "
        "to a .npy, .npz or text file"
    )


__all__ = [
    "Dataset",
    "DataInfo",
    "DataError",
    "load",
    "available",
    "from_array",
    "batch_indices",
    "data_dir",
    "read_idx",
    "encode",
    "decode",
    "toy2d",
]
