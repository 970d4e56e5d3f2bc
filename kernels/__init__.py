"""kernels: Numba-JIT loops on plain ndarrays (convolution, attention, NADE); numpy and numba only.

Nothing here knows about autodiff; ``scratchgen.nn.functional`` binds these kernels into the
engine as differentiable primitives. Each kernel has a plain NumPy reference beside it
(``*_reference``), the definition the tests hold it to.

Importing the package tunes two process-wide settings that the kernels' speed depends on (both
measured on a 2-core machine, both skipped when the user has set the variables themselves):
"""

import ctypes
import os
import sys

# 1. Numba's OpenMP workers spin for a while after each parallel loop; on two cores that
#    spinning steals the CPU from the BLAS threads of the matrix product that follows (a conv2d
#    forward on (128, 32, 8, 8) took 7.96 ms with spinning workers, 2.39 ms with passive ones).
#    It must be set before the OpenMP runtime starts.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _keep_freed_memory() -> None:
    """2. glibc gives large freed blocks back to the system, so the next array of that size
    page-faults on every first write: the attention backward on (32, 4, 128, 32) spent 33 ms
    instead of 7.6 ms doing so. Keeping freed memory for reuse, as PyTorch's caching allocator
    does, removes that cost; the price is that the process keeps its peak heap."""
    if sys.platform != "linux" or any(name.startswith("MALLOC_") for name in os.environ):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    mallopt(m_mmap_threshold, 32 << 20)  # glibc's largest: bigger arrays are still mapped
    mallopt(m_trim_threshold, 1 << 30)


_keep_freed_memory()
