"""kernels: Numba-JIT loops on plain ndarrays (convolution, attention); numpy and numba only.

Nothing here knows about autodiff; ``scratchgen.nn.functional`` binds these kernels into the
engine as differentiable primitives.
"""
