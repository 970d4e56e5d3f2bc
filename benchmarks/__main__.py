"""``python -m benchmarks [--only SUITE ...]``: print every benchmark table."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys

import numpy as np

from benchmarks.suites import SUITES, TITLES
from benchmarks.timing import print_table


def _torch_times(names: list[str]) -> tuple[str | None, dict[str, float]]:
    """PyTorch CPU's times, when it happens to be installed, from a process of its own."""
    if importlib.util.find_spec("torch") is None:
        return None, {}
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.torch_side", *names], capture_output=True, text=True
    )
    if result.returncode != 0:  # report ours anyway, and say why the comparison is missing
        reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"PyTorch comparison skipped: {reason}")
        return None, {}
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    return answer["version"], answer["times"]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--only", nargs="*", choices=sorted(SUITES), help="suites to run")
    names = parser.parse_args().only or list(SUITES)
    torch_version, torch_times = _torch_times(names)
    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} cores, "
          f"torch {torch_version or 'not installed'}")  # fmt: skip
    if "kernels" in names:
        print(f"float32 GEMM roofline: {SUITES['kernels'].gemm_roofline():.0f} GFLOP/s")
    print("ratios are their time / our time: above 1 means we are faster")
    for name in names:
        rows = SUITES[name].measure()
        for row in rows:
            row.torch = torch_times.get(row.name)
        print_table(TITLES[name], rows)


if __name__ == "__main__":
    main()
