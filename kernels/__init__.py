"""kernels: Numba-JIT loops on plain ndarrays (convolution, attention); numpy and numba only.

Nothing here knows about autodiff; ``scratchgen.nn.functional`` binds these kernels into the
engine as differentiable primitives. Each kernel has a plain NumPy reference beside it
(``*_reference``), the definition the tests hold it to.
"""

import os

# Numba's OpenMP workers spin for a while after each parallel loop; on two cores that spinning
# steals the CPU from the BLAS threads of the matrix product that follows (measured: a conv2d
# forward on (128, 32, 8, 8) took 7.96 ms with spinning workers, 2.39 ms with passive ones).
# It must be set before the OpenMP runtime starts; a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
