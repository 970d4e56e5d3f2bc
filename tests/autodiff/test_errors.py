"""Mistakes give one clear message that names the op and the shapes."""

import numpy as np
import pytest

import autodiff as ad


def test_backward_of_non_scalar_without_gradient():
    y = ad.Tensor(np.ones(3), requires_grad=True) * 2.0
    with pytest.raises(RuntimeError, match=r"shape \(3,\) needs a gradient"):
        y.backward()


def test_backward_of_constant():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ad.Tensor(1.0).backward()


def test_gradient_of_wrong_shape():
    y = ad.Tensor(np.ones(3), requires_grad=True) * 2.0
    with pytest.raises(ValueError, match=r"gradient of shape \(2,\).*\(3,\)"):
        y.backward(np.ones(2))


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        ad.Tensor([1, 2], requires_grad=True)


def test_matmul_mismatch_names_shapes():
    a, b = ad.Tensor(np.ones((2, 3))), ad.Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\)"):
        a @ b


def test_reshape_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"reshape: cannot reshape .* \(2, 3\) into \(4,\)"):
        ad.reshape(np.ones((2, 3)), (4,))


def test_broadcast_mismatch():
    with pytest.raises(ValueError, match=r"cannot broadcast shape \(3,\) to \(2, 4\)"):
        ad.broadcast_to(np.ones(3), (2, 4))


def test_concatenate_mismatch():
    with pytest.raises(ValueError, match="differ off axis 0"):
        ad.concatenate([np.ones((2, 3)), np.ones((2, 4))], axis=0)


def test_solve_mismatch():
    with pytest.raises(ValueError, match=r"solve: A of shape \(3, 3\)"):
        ad.solve(np.eye(3), np.ones(4))


def test_non_square_inverse():
    with pytest.raises(ValueError, match="square"):
        ad.inv(np.ones((2, 3)))


def test_cholesky_of_indefinite_matrix():
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        ad.cholesky(-np.eye(2))


def test_axis_out_of_range():
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        ad.sum(np.ones((2, 3)), axis=2)


def test_index_out_of_range_names_shape():
    with pytest.raises(IndexError, match=r"shape \(2, 3\)"):
        ad.Tensor(np.ones((2, 3)))[5]


def test_take_along_axis_mismatch():
    with pytest.raises(ValueError, match="do not match"):
        ad.take_along_axis(np.ones((2, 3)), np.zeros((3, 1), dtype=int), axis=1)


def test_one_hot_out_of_range():
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        ad.one_hot([0, 3], 3)


def test_tensors_are_immutable():
    with pytest.raises(TypeError, match="immutable"):
        ad.Tensor(np.ones(2))[0] = 1.0


def test_a_vjp_of_the_wrong_shape_is_caught():
    bad = ad.primitive(lambda x: x.sum(), name="bad_sum").defvjp(lambda g, ans, x: g)
    x = ad.Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"VJP of bad_sum .* shape \(\).* \(3,\)"):
        bad(x).backward()


def test_missing_vjp():
    op = ad.primitive(lambda x, y: x + y, name="half_defined").defvjp(lambda g, ans, x, y: g)
    y = ad.Tensor(1.0, requires_grad=True)
    with pytest.raises(NotImplementedError, match="half_defined.*argument 1"):
        op(1.0, y).backward()


def test_broadcast_mismatch_in_an_elementwise_op_names_the_op():
    x = ad.Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"multiply: .*\(3,\) \(4,\)"):
        x * np.ones(4)
