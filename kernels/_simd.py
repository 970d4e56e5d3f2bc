"""Vectors of 16 float32 numbers as values inside Numba code: ``zeros``, ``load``, ``store``,
``splat`` and ``fma``, each one LLVM instruction on the type ``<16 x float>``.

A loop that keeps its sums in these values keeps them in registers: they are SSA values, not
memory, so no store can alias them, which is what defeats LLVM when the same sums live in a
NumPy array (every update becomes a load and a store). The vectoriser is not needed either:
the loop is written with the vectors it should use, as a C kernel is with intrinsics.

LLVM lowers ``<16 x float>`` to whatever the machine has: one AVX-512 register, or two AVX2
registers (what it chooses on this project's machines, where it prefers 256-bit vectors),
or four SSE ones. So the code is portable; only its speed depends on the machine.

``load`` and ``store`` read and write a[i : i + 16] of a 1-D float32 array with unit stride,
unchecked: the caller guarantees the bounds (these run in innermost loops).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

LANES = 16
_VECTOR = ir.VectorType(ir.FloatType(), LANES)


class Float32x16(types.Type):
    """The Numba type of a vector of 16 float32 numbers."""

    def __init__(self) -> None:
        super().__init__(name="float32x16")


float32x16 = Float32x16()


@register_model(Float32x16)
class _VectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type) -> None:
        super().__init__(dmm, fe_type, _VECTOR)


def _address(context, builder, array_type, array, index):
    """A pointer to the vector at array[index], an array of float32 with unit stride."""
    data = context.make_array(array_type)(context, builder, array).data
    return builder.bitcast(builder.gep(data, [index]), _VECTOR.as_pointer())


def _check_array(name: str, array) -> None:
    if not (isinstance(array, types.Array) and array.dtype == types.float32 and array.ndim == 1):
        raise TypeError(f"{name}: expected a 1-D float32 array, got {array}")


@intrinsic
def zeros(typingctx):
    """The vector of 16 zeros."""

    def codegen(context, builder, signature, args):
        return ir.Constant(_VECTOR, [0.0] * LANES)

    return float32x16(), codegen


@intrinsic
def load(typingctx, array, index):
    """array[index : index + 16] as a vector."""
    _check_array("load", array)

    def codegen(context, builder, signature, args):
        return builder.load(_address(context, builder, signature.args[0], *args), align=4)

    return float32x16(array, index), codegen


@intrinsic
def store(typingctx, array, index, vector):
    """array[index : index + 16] = vector."""
    _check_array("store", array)

    def codegen(context, builder, signature, args):
        pointer = _address(context, builder, signature.args[0], args[0], args[1])
        builder.store(args[2], pointer, align=4)
        return context.get_dummy_value()

    return types.void(array, index, vector), codegen


@intrinsic
def splat(typingctx, x):
    """The vector whose 16 numbers are all the float32 x."""
    if x != types.float32:
        raise TypeError(f"splat: expected a float32, got {x}")

    def codegen(context, builder, signature, args):
        first = builder.insert_element(ir.Constant(_VECTOR, ir.Undefined), args[0],
                                       ir.Constant(ir.IntType(32), 0))  # fmt: skip
        everywhere = ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES)
        return builder.shuffle_vector(first, ir.Constant(_VECTOR, ir.Undefined), everywhere)

    return float32x16(x), codegen


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c lane by lane, rounded once (LLVM's llvm.fma)."""

    def codegen(context, builder, signature, args):
        fused = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(_VECTOR, [_VECTOR] * 3), f"llvm.fma.v{LANES}f32"
        )
        return builder.call(fused, args)

    return float32x16(a, b, c), codegen
