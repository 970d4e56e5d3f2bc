"""C = alpha op(A) op(B) + beta C in float32 inside Numba code, by a direct call of the BLAS's
sgemm (the attention loop, its one caller, is compiled for float32 alone).

Numba's ``np.dot`` multiplies too, but it allocates its result, so accumulating (dK += dS^T Q)
costs a temporary and a pass over it, and each call site compiles to a large block of code (a
function with three ``np.dot`` calls took 4.7 s to compile, the same with three calls of
``gemm`` 2.0 s). The BLAS is the one ``np.dot`` uses, SciPy's (``scipy.linalg.cython_blas``,
which Numba imports for ``np.dot`` itself), reached through its Fortran interface: every
argument by pointer. Its address is registered with LLVM under a name of our own, so that the
compiled code can be cached and found again in a later process.

Arrays are row-major with a unit stride along their rows: any block of rows of a C-contiguous
2-D array qualifies, and its row stride is the leading dimension. A row-major C = op(A) op(B)
is the column-major C^T = op(B)^T op(A)^T, so the call passes B before A.
"""

from __future__ import annotations

import llvmlite.binding as llvm
import numpy as np
from numba import njit, types
from numba.extending import get_cython_function_address

_ADDRESS = get_cython_function_address("scipy.linalg.cython_blas", "sgemm")
llvm.add_symbol("scratchgen_sgemm", _ADDRESS)
_sgemm = types.ExternalFunction("scratchgen_sgemm", types.void(*([types.voidptr] * 13)))
_N, _T = 78, 84  # ord("N"), ord("T")


@njit(cache=True)
def _leading(x):  # pragma: no cover (JIT)
    """The row stride in elements: BLAS's leading dimension of the column-major transpose."""
    return max(1, x.strides[0] // x.itemsize, x.shape[1])


@njit(cache=True, inline="always")
def gemm(alpha, a, b, beta, c, trans_a, trans_b):  # pragma: no cover (JIT)
    """c = alpha op(a) op(b) + beta c, op(x) = x.T if trans_x.

    The caller guarantees the shapes and that each row is contiguous (unchecked: this runs in
    the innermost loops of kernels that have checked their arguments once)."""
    # bool(): Numba types a constant flag as a literal, and compiled _sgemm_call once per
    # combination of flags (three); a declared signature would instead compile it at import
    _sgemm_call(alpha, a, b, beta, c, bool(trans_a), bool(trans_b))


@njit(cache=True)
def _sgemm_call(alpha, a, b, beta, c, trans_a, trans_b):  # pragma: no cover (JIT)
    m, n = c.shape
    if m == 0 or n == 0:
        return
    sizes = np.empty(6, dtype=np.int32)
    sizes[0], sizes[1], sizes[2] = n, m, a.shape[0] if trans_a else a.shape[1]
    sizes[3], sizes[4], sizes[5] = _leading(b), _leading(a), _leading(c)
    flags = np.empty(2, dtype=np.uint8)
    flags[0], flags[1] = _T if trans_b else _N, _T if trans_a else _N
    scalars = np.empty(2, dtype=np.float32)
    scalars[0], scalars[1] = alpha, beta
    size, flag, scalar = sizes.ctypes.data, flags.ctypes.data, scalars.ctypes.data
    _sgemm(flag, flag + 1, size, size + 4, size + 8, scalar, b.ctypes.data, size + 12,
           a.ctypes.data, size + 16, scalar + 4, c.ctypes.data, size + 20)  # fmt: skip
