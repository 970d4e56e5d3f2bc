"""Graph semantics: reuse, diamonds, deep chains, retain_graph, no_grad, detach, accumulation."""

import numpy as np
import pytest

import autodiff as ad


def leaf(values, dtype=np.float64):
    return ad.Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def test_a_reused_tensor_accumulates_every_use():
    x = leaf([1.0, -2.0, 3.0])
    y = (x * x * x).sum()  # d/dx x^3 = 3x^2, reached through three uses of x
    y.backward()
    np.testing.assert_allclose(x.grad.data, 3 * x.data**2)


def test_diamond_sums_both_paths():
    x = leaf(0.7)
    a, b = ad.sin(x), ad.exp(x)
    y = a * b  # dy/dx = cos(x) e^x + sin(x) e^x
    y.backward()
    expected = np.cos(0.7) * np.exp(0.7) + np.sin(0.7) * np.exp(0.7)
    np.testing.assert_allclose(x.grad.item(), expected)


def test_deep_chain_needs_no_recursion():
    x = leaf(1.0)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    (g,) = ad.grad(y, x)
    np.testing.assert_allclose(g.item(), 1.0001**10_000)


def test_deep_graph_is_released_without_recursion():
    x = leaf(1.0)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    del y  # a recursive teardown of 100 000 nested nodes would crash the interpreter


def test_backward_twice_accumulates_into_grad():
    x = leaf([1.0, 2.0])
    (x * 3.0).sum().backward()
    (x * 4.0).sum().backward()
    np.testing.assert_allclose(x.grad.data, [7.0, 7.0])


def test_second_backward_through_freed_graph_is_an_error():
    x = leaf(2.0)
    y = ad.exp(x) * x
    y.backward()
    with pytest.raises(RuntimeError, match="already freed.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf(2.0)
    y = ad.exp(x) * x
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.item(), 2 * (np.exp(2.0) + 2 * np.exp(2.0)))


def test_no_grad_records_nothing():
    x = leaf([1.0])
    with ad.no_grad():
        y = x * 2.0
    assert not y.requires_grad and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_no_grad_nests_and_restores_state():
    assert ad.is_grad_enabled()
    with ad.no_grad():
        with ad.enable_grad():
            assert ad.is_grad_enabled()
        assert not ad.is_grad_enabled()
    assert ad.is_grad_enabled()


def test_no_grad_as_decorator():
    @ad.no_grad()
    def double(t):
        return t * 2.0

    assert not double(leaf(1.0)).requires_grad
    assert ad.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = leaf(3.0)
    y = x * x.detach()  # gradient flows through the first factor only
    y.backward()
    assert x.grad.item() == pytest.approx(3.0)


def test_grad_does_not_touch_dot_grad_and_continues_through_non_leaf_inputs():
    x = leaf(1.5)
    h = x * x
    y = h * x  # y = x^3 with h = x^2 an intermediate
    gh, gx = ad.grad(y, [h, x])
    assert gh.item() == pytest.approx(1.5)  # dy/dh = x
    assert gx.item() == pytest.approx(3 * 1.5**2)  # the total derivative, through h as well
    assert x.grad is None


def test_grad_of_unused_input():
    x, z = leaf(1.0), leaf(2.0)
    with pytest.raises(RuntimeError, match="input 1 was not used"):
        ad.grad(x * 2.0, [x, z])
    gx, gz = ad.grad(x * 2.0, [x, z], allow_unused=True)
    assert gx.item() == 2.0 and gz is None


def test_grad_outputs_weight_a_vector_output():
    x = leaf([1.0, 2.0, 3.0])
    (g,) = ad.grad(x * x, x, grad_outputs=np.array([1.0, 0.0, -1.0]))
    np.testing.assert_allclose(g.data, [2.0, 0.0, -6.0])


def test_gradient_sums_back_over_broadcast_axes():
    bias = leaf([1.0, 2.0, 3.0])
    x = ad.Tensor(np.ones((4, 3)))
    (x + bias).sum().backward()
    np.testing.assert_allclose(bias.grad.data, [4.0, 4.0, 4.0])


def test_leaf_grad_is_writable_even_from_a_broadcast():
    w = leaf([[1.0, 2.0]])
    (w + np.zeros((5, 2))).sum().backward()
    w.grad.data[0, 0] = 0.0  # an optimizer may update in place


def test_mixed_precision_gives_each_input_its_own_dtype():
    a = leaf([1.0, 2.0], np.float32)
    b = leaf([3.0, 4.0], np.float64)
    y = (a * b).sum()
    assert y.dtype == np.float64
    y.backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_python_scalars_do_not_upcast_float32():
    x = leaf([1.0, 2.0], np.float32)
    for y in (x * 2.5, 2.5 * x, x + 1, x / 3.0, 1.0 - x, x**2, 2.0**x, ad.maximum(x, 0.5)):
        assert y.dtype == np.float32


def test_ndarray_on_the_left_defers_to_the_tensor():
    x = leaf([1.0, 2.0])
    y = np.array([3.0, 4.0]) * x
    assert isinstance(y, ad.Tensor) and y.requires_grad
    assert np.asarray(y).tolist() == [3.0, 4.0 * 2.0]
