"""Character-level text as a dataset: windows of token ids over a vocabulary."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scratchgen.data import grammar
from scratchgen.data.dataset import DataInfo, Dataset

WINDOW = 64


def encode(text: str, vocab: list[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(vocab)}
    return np.fromiter((index[c] for c in text), dtype=np.int64, count=len(text))


def decode(tokens: np.ndarray, vocab: list[str]) -> str:
    return "".join(vocab[int(t)] for t in np.ravel(tokens))


def _windows(tokens: np.ndarray, length: int) -> np.ndarray:
    n = len(tokens) // length
    return tokens[: n * length].reshape(n, length)


def text_dataset(
    name: str,
    train_text: str,
    test_text: str,
    vocab: list[str] | None = None,
    window: int = WINDOW,
    **extras,
) -> Dataset:
    """Non-overlapping windows of ``window`` characters; the token streams, the vocabulary and
    anything else given stay in ``extras``."""
    vocab = vocab or sorted(set(train_text) | set(test_text))
    train, test = encode(train_text, vocab), encode(test_text, vocab)
    if len(train) < window or len(test) < window:
        raise ValueError(f"{name}: each split needs at least {window} characters")
    return Dataset(
        name,
        _windows(train, window),
        _windows(test, window),
        DataInfo((window,), "categorical", len(vocab)),
        extras={"vocab": vocab, "train_tokens": train, "test_tokens": test, **extras},
    )


def grammar_text() -> Dataset:
    """200k training and 20k test characters from ``grammar``; ``extras['entropy_rate']`` is
    the exact best achievable NLL in nats per character."""
    return text_dataset(
        "grammar",
        grammar.sample_text(200_000, np.random.default_rng(1)),
        grammar.sample_text(20_000, np.random.default_rng(2)),
        grammar.VOCAB,
        entropy_rate=grammar.entropy_rate(),
    )


def text_file(path: Path) -> Dataset:
    """Any UTF-8 text file: the first 90% trains, the last 10% tests (the tiny Shakespeare
    convention)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot be read as UTF-8 text ({error})") from None
    cut = int(0.9 * len(text))
    return text_dataset(Path(path).name, text[:cut], text[cut:])
