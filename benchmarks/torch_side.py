"""``python -m benchmarks.torch_side SUITE ...``: PyTorch's times as JSON, measured in a process
of its own.

PyTorch is imported before anything of ours, with its default threading. In one process with
our kernels the two libraries' thread pools disturbed each other's timings by up to 3x.
"""

import json
import sys

import torch  # first: its OpenMP runtime starts with its own settings

from benchmarks.suites import SUITES


def main() -> None:
    times = {}
    for name in sys.argv[1:]:
        times.update(SUITES[name].torch_times(torch))
    print(json.dumps({"version": torch.__version__, "times": times}))


if __name__ == "__main__":
    main()
