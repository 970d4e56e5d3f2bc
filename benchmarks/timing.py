"""Timing and reporting helpers shared by every benchmark."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


def seconds_per_call(fn: Callable[[], object], min_time: float = 0.3, repeats: int = 7) -> float:
    """Best of ``repeats`` timings, each long enough (>= min_time / repeats) to be stable.

    The minimum, not the mean, because other processes only ever add time.
    """
    fn()  # warm-up: caches, lazy imports, JIT compilation
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time / repeats:
            break
        calls *= 2
    best = elapsed / calls
    for _ in range(repeats - 1):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


@dataclass
class Row:
    """One benchmark: our time, the NumPy reference's, PyTorch's (None when not measured), and
    the floating-point operations it does (for GFLOP/s)."""

    name: str
    ours: float
    numpy: float | None = None
    torch: float | None = None
    flops: float | None = None


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    return f"{seconds * 1e3:.2f} ms"


def _ratio(theirs: float | None, ours: float) -> str:
    return "-" if theirs is None else f"{theirs / ours:.2f}x"


def print_table(title: str, rows: list[Row]) -> None:
    """Times, our GFLOP/s, and speed ratios (their time / our time: above 1 means we are
    faster)."""
    header = ("benchmark", "ours", "GFLOP/s", "numpy", "numpy/ours", "torch", "torch/ours")
    lines = [
        (r.name, _time(r.ours), "-" if r.flops is None else f"{r.flops / r.ours / 1e9:.0f}",
         _time(r.numpy), _ratio(r.numpy, r.ours), _time(r.torch), _ratio(r.torch, r.ours))
        for r in rows
    ]  # fmt: skip
    widths = [max(len(str(x)) for x in column) for column in zip(header, *lines)]
    print(f"\n{title}")
    for line in (header, *lines):
        print("  " + "  ".join(str(x).ljust(w) for x, w in zip(line, widths)))
