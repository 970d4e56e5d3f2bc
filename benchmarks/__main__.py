"""``python -m benchmarks [--only NAME ...]``: print every benchmark table."""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np

from benchmarks import engine
from benchmarks.timing import print_table

SUITES = {"engine": ("autodiff engine", engine.run)}


def _optional_torch():
    """PyTorch CPU as a comparator, when it happens to be installed, on our thread count."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    return torch


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--only", nargs="*", choices=sorted(SUITES), help="suites to run")
    args = parser.parse_args()
    torch = _optional_torch()
    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} cores, "
          f"torch {torch.__version__ if torch else 'not installed'}")  # fmt: skip
    print("ratios are their time / our time: above 1 means we are faster")
    for name in args.only or SUITES:
        title, run = SUITES[name]
        print_table(title, run(torch))


if __name__ == "__main__":
    main()
