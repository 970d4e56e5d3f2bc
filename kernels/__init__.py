"""kernels: Numba-JIT loops on plain ndarrays (convolution, attention, NADE); numpy and numba only.

Nothing here knows about autodiff; ``scratchgen.nn.functional`` binds these kernels into the
engine as differentiable primitives. Each kernel has a plain NumPy reference beside it
(``*_reference``), the definition the tests hold it to.

Importing the package also drops Numba's cached kernels when any file here has changed
(``kernels._cache``): Numba checks only the file of the function it compiled, not the files of
the helpers compiled into it.

And it tunes two process-wide settings that the kernels' speed depends on (both
measured on a 2-core machine, both skipped when the user has set the variables themselves):
"""

import ctypes
import os
import sys
from pathlib import Path

from kernels._cache import drop_stale_cache

drop_stale_cache(Path(__file__).parent)

# 1. OpenBLAS's workers spin after every matrix product, for 2^28 clock cycles (about 0.1 s),
#    and on two cores that spinning took the CPU from each Numba loop between two products
#    (im2col, col2im): conv2d forward + backward on (32, 64, 28, 28), k=3, took 83-125 ms,
#    and 51-60 ms once the workers go to sleep at once (2^8 cycles); an MLP's training step,
#    products and NumPy only, moved by less than the noise (5.1-5.6 ms against 5.5-5.9).
#    OpenBLAS reads this when it loads, that is when NumPy is first imported: ``import
#    scratchgen`` and ``import kernels`` set it in time, an ``import numpy`` before them does
#    not.
if "numpy" not in sys.modules:
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "8")


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
