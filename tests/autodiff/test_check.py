"""The checkers must catch wrong gradients, or every other test here proves nothing."""

import numpy as np
import pytest

import autodiff as ad

x0 = np.linspace(-1.0, 1.5, 6)


def test_gradcheck_catches_a_wrong_first_derivative():
    cube = ad.primitive(lambda x: x**3, name="cube").defvjp(lambda g, ans, x: g * 2 * x**2)
    with pytest.raises(ad.GradcheckError, match="input 0"):
        ad.gradcheck(cube, [x0])


def test_gradcheck_catches_a_gradient_wrong_on_one_element_only():
    def off_by_one_element(g, ans, x):
        bump = np.zeros(x.shape)
        bump[3] = 1e-2
        return g * 3 * x**2 + bump

    cube = ad.primitive(lambda x: x**3, name="cube").defvjp(off_by_one_element)
    with pytest.raises(ad.GradcheckError):
        ad.gradcheck(cube, [x0])


def test_gradgradcheck_catches_a_vjp_built_outside_the_engine():
    """3x^2 computed in NumPy is right at first order, but invisible to the second."""
    cube = ad.primitive(lambda x: x**3, name="cube")
    cube.defvjp(lambda g, ans, x: g * (3 * x.data**2))
    assert ad.gradcheck(cube, [x0])
    with pytest.raises(ad.GradcheckError):
        ad.gradgradcheck(cube, [x0])


def test_a_correct_new_primitive_passes_both():
    cube = ad.primitive(lambda x: x**3, name="cube").defvjp(lambda g, ans, x: g * 3 * x**2)
    assert ad.gradcheck(cube, [x0]) and ad.gradgradcheck(cube, [x0])


def test_gradcheck_refuses_float32():
    with pytest.raises(ValueError, match="float64"):
        ad.gradcheck(ad.exp, [ad.Tensor(np.ones(2, np.float32), requires_grad=True)])


def test_gradcheck_leaves_constant_inputs_alone():
    indices = np.array([2, 0])
    assert ad.gradcheck(lambda x, i: x[i] * 2.0, [x0, indices])


def test_primitive_decorator_form():
    @ad.primitive(name="square")
    def square(x):
        return x * x

    square.defvjp(lambda g, ans, x: 2 * g * x)
    assert square.name == "square" and repr(square) == "Primitive('square')"
    assert ad.gradgradcheck(square, [x0])


def test_broadcasting_primitive_gets_its_gradient_summed():
    scaled = ad.primitive(lambda x, s: x * s, name="scaled", broadcasting=True)
    scaled.defvjp(lambda g, ans, x, s: g * s, lambda g, ans, x, s: g * x)
    assert ad.gradcheck(scaled, [np.ones((3, 4)) + x0[:4], np.array([2.0, 3.0, 4.0, 5.0])])


def test_variadic_primitive():
    total = ad.primitive(lambda *xs: sum(xs), name="total")
    total.defvjp_argnum(lambda argnum, g, ans, *xs: g)
    assert ad.gradcheck(lambda a, b, c: total(a, b, c), [x0, x0 + 1, x0 - 1])


def test_a_primitive_can_save_a_residual_for_its_vjp():
    """softmax-cross-entropy style: the forward keeps exp(x) so the VJP need not recompute it."""
    calls = []

    def forward(x):
        e = np.exp(x)
        return np.log(e.sum()), e

    def vjp(g, ans, x, saved):
        calls.append(saved)
        return g * (saved / saved.sum())

    lse = ad.primitive(forward, name="lse", saves=True).defvjp(vjp)
    assert ad.gradcheck(lse, [x0])
    assert calls and isinstance(calls[0], np.ndarray)
    with ad.no_grad():
        assert lse(x0).item() == pytest.approx(np.log(np.exp(x0).sum()))


def test_saved_residuals_are_freed_with_the_graph():
    op = ad.primitive(lambda x: (x * 2, "residual"), name="double", saves=True)
    op.defvjp(lambda g, ans, x, saved: g * 2)
    y = op(ad.Tensor(x0, requires_grad=True))
    assert y._node.saved == "residual"
    y.sum().backward()
    assert y._node.saved is None and y._node.inputs is None


def test_joint_vjp_is_called_once_for_all_inputs():
    calls = []

    def vjp(g, ans, a, b):
        calls.append(1)
        return g * b, g * a

    product = ad.primitive(np.multiply, name="product").defvjp_joint(vjp)
    a, b = ad.Tensor(x0, requires_grad=True), ad.Tensor(x0 + 1, requires_grad=True)
    product(a, b).sum().backward()
    assert len(calls) == 1
    np.testing.assert_allclose(a.grad.data, x0 + 1)
    assert ad.gradcheck(product, [x0, x0 + 1]) and ad.gradgradcheck(product, [x0, x0 + 1])
