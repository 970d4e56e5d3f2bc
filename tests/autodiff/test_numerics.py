"""Forward values: equal to NumPy/SciPy where those define them, and stable where they overflow."""

import numpy as np
import pytest
from scipy import special

import autodiff as ad


def test_logsumexp_does_not_overflow():
    x = np.array([[1000.0, 1000.0], [-1000.0, -1001.0]])
    np.testing.assert_allclose(ad.logsumexp(x, axis=1).data, special.logsumexp(x, axis=1))


def test_logsumexp_of_all_minus_infinity():
    assert ad.logsumexp(np.array([-np.inf, -np.inf])).item() == -np.inf


def test_softmax_sums_to_one_at_extremes():
    x = np.array([[1e4, 0.0, -1e4], [3.0, 3.0, 3.0]])
    p = ad.softmax(x, axis=1).data
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p, special.softmax(x, axis=1))


def test_log_softmax_is_finite_where_softmax_underflows():
    x = np.array([0.0, -800.0])
    assert ad.log_softmax(x).data[1] == pytest.approx(-800.0)


@pytest.mark.parametrize("x", [-800.0, -40.0, 0.0, 40.0, 800.0])
def test_sigmoid_and_friends_are_stable(x):
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert ad.sigmoid(x).item() == pytest.approx(special.expit(x), rel=1e-12, abs=0)
        assert ad.softplus(x).item() == pytest.approx(np.logaddexp(0, x))
        assert ad.log_sigmoid(x).item() == pytest.approx(special.log_expit(x))


def test_sigmoid_gradient_at_extremes_is_finite():
    x = ad.Tensor(np.array([-800.0, 800.0]), requires_grad=True)
    ad.log_sigmoid(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [1.0, 0.0])


def test_slogdet_sign_and_value():
    a = np.array([[0.0, 2.0], [3.0, 1.0]])  # det = -6
    sign, logdet = ad.slogdet(a)
    assert sign.item() == -1.0 and logdet.item() == pytest.approx(np.log(6.0))


def test_cholesky_reconstructs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 3))
    a = x @ np.swapaxes(x, -1, -2) + np.eye(3)
    L = ad.cholesky(a).data
    np.testing.assert_allclose(L @ np.swapaxes(L, -1, -2), a)


def test_triangular_solve_ignores_the_other_triangle():
    a = np.array([[2.0, 99.0], [1.0, 4.0]])
    x = ad.triangular_solve(a, np.array([2.0, 9.0]), lower=True).data
    np.testing.assert_allclose(np.tril(a) @ x, [2.0, 9.0])


def test_one_hot_rows():
    np.testing.assert_array_equal(ad.one_hot([2, 0], 3).data, [[0, 0, 1], [1, 0, 0]])


def test_astype_gradient_comes_back_in_the_input_dtype():
    x = ad.Tensor(np.ones(3, np.float32), requires_grad=True)
    (ad.astype(x, np.float64) * 2.0).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0, 2.0])


def test_tensor_protocol():
    t = ad.Tensor([[1.0, 2.0], [3.0, 4.0]])
    assert t.shape == (2, 2) and t.ndim == 2 and t.size == 4 and t.dtype == np.float64
    assert np.asarray(t) is t.data and t.numpy() is t.data
    assert t.T.tolist() == [[1.0, 3.0], [2.0, 4.0]]
    assert [row.tolist() for row in t] == [[1.0, 2.0], [3.0, 4.0]]
    assert (t > 2.0).tolist() == [[False, False], [True, True]]
    assert float(t.sum()) == 10.0 and len(t) == 2
    assert "requires_grad=True" in repr(ad.Tensor(1.0, requires_grad=True))
    assert "op=multiply" in repr(ad.Tensor(1.0, requires_grad=True) * 2.0)
    assert t.reshape(4).shape == (4,) and t.reshape((1, 4)).shape == (1, 4)
    assert t.transpose(1, 0).tolist() == t.T.tolist()
    assert t.flatten().shape == (4,)
    leaf = ad.Tensor([1.0], requires_grad=True)
    assert leaf.op_name is None and (leaf * 2.0).op_name == "multiply"
    assert (t * 2.0).op_name is None  # nothing requires grad: no graph is recorded
