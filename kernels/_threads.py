"""Running kernels on both cores: our loops' threads, and the BLAS's inside them.

``for_each_share(kernel, count, ...)`` splits range(count) into equal shares, one per Numba
thread, and calls a ``nogil`` kernel on each share from a thread of its own. A ``prange`` did
the same as fast, but Numba compiles every prange into a parallel function of its own and
compiles the loop body's callees into it again: 1.8-2.3 s per attention kernel and dtype, and
0.7-1.5 s for each of the convolution's loops, against 0.2-0.6 s for the plain loops.

``one_blas_thread_each()``, for kernels that multiply matrices inside such a loop. The products
(``kernels._gemm``, or Numba's ``np.dot``) call the BLAS that SciPy links
(``scipy.linalg.cython_blas``), a library of its own beside NumPy's, with its own pool of
threads. Called from both of our threads at once, that pool oversubscribed the two cores: the
attention forward on (8, 4, 512, 64) took from 160 ms to 2.3 s instead of 43 ms. So while such
a kernel runs, that BLAS is asked for a single thread, and its old count is given back after.
Where the library cannot be asked (a BLAS other than OpenBLAS), the loop runs on one thread
instead, and each product keeps all of the BLAS's threads.

SciPy appears here only because Numba imports ``scipy.linalg.cython_blas`` itself to compile
``np.dot``; nothing of SciPy is used but that library's thread count.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numba

# OpenBLAS's names for them: SciPy's wheels prefix theirs, 64-bit-integer builds suffix theirs
_NAMES = [(f"{prefix}openblas_set_num_threads{suffix}", f"{prefix}openblas_get_num_threads{suffix}")
          for prefix in ("scipy_", "") for suffix in ("", "64_")]  # fmt: skip
_LOCK = threading.Lock()  # two callers must not interleave their set and restore


@functools.cache
def blas_thread_control() -> tuple[ctypes._CFuncPtr, ctypes._CFuncPtr] | None:
    """(set, get) of the thread count of the BLAS behind Numba's np.dot, if it is OpenBLAS."""
    try:
        import scipy.linalg.cython_blas as cython_blas

        # symbols looked up through this handle resolve in the library cython_blas links
        library = ctypes.CDLL(cython_blas.__file__)
    except (ImportError, OSError):
        return None
    for set_name, get_name in _NAMES:
        setter, getter = getattr(library, set_name, None), getattr(library, get_name, None)
        if setter is not None and getter is not None:
            setter.argtypes, setter.restype, getter.restype = [ctypes.c_int], None, ctypes.c_int
            return setter, getter
    return None


@contextlib.contextmanager
def one_blas_thread_each() -> Iterator[None]:
    """Within: each of our threads may multiply matrices without oversubscribing the cores."""
    control = blas_thread_control()
    with _LOCK:
        if control is None:  # then our loops run on one thread, and each product on all
            set_threads, before = numba.set_num_threads, numba.get_num_threads()
        else:
            set_threads, get_threads = control
            before = get_threads()
        set_threads(1)
        try:
            yield
        finally:
            set_threads(before)


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=numba.config.NUMBA_NUM_THREADS)


def share_count(count: int) -> int:
    """How many shares ``for_each_share`` splits range(count) into: one per Numba thread, at
    most one per unit. Kernels that keep an accumulator per share size them by it."""
    return max(1, min(numba.get_num_threads(), count))


def for_each_share(kernel: Callable[..., None], count: int, *args: object) -> None:
    """kernel(start, stop, *args) on [0, count) split into ``share_count(count)`` equal
    shares, all at once: the last share in this thread, the others in a pool's threads."""
    threads = share_count(count)
    bounds = [count * t // threads for t in range(threads + 1)]
    others = [_pool().submit(kernel, start, stop, *args)
              for start, stop in zip(bounds[:-2], bounds[1:-1])]  # fmt: skip
    kernel(bounds[-2], bounds[-1], *args)
    for share in others:
        share.result()
