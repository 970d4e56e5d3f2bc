"""Small models fit by plain gradient descent, every gradient from the engine."""

import numpy as np

import autodiff as ad


def gradient_descent(loss_fn, params, learning_rate, steps):
    for _ in range(steps):
        grads = ad.grad(loss_fn(*params), params)
        params = [ad.Tensor(p.data - learning_rate * g.data, True) for p, g in zip(params, grads)]
    return params, loss_fn(*params).item()


def bernoulli_nll(logits, y):
    """-log p(y | logits) averaged: softplus(l) - y l."""
    return ad.mean(ad.softplus(logits) - y * logits)


def test_logistic_regression_reaches_the_maximum_likelihood_fit():
    """Labels drawn from a known logistic model; gradient descent must reach the loss of the
    exact maximum-likelihood solution (found here by Newton's method) to 1e-6 nats."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 3))
    y = (rng.random(400) < 1 / (1 + np.exp(-(x @ [1.5, -2.0, 0.5] + 0.3)))).astype(float)
    X = np.hstack([x, np.ones((400, 1))])

    theta = np.zeros(4)
    for _ in range(30):  # Newton's method: the reference optimum
        p = 1 / (1 + np.exp(-X @ theta))
        theta -= np.linalg.solve(X.T @ (X * (p * (1 - p))[:, None]), X.T @ (p - y))
    best = np.mean(np.logaddexp(0, X @ theta) - y * (X @ theta))

    w = ad.Tensor(np.zeros(3), requires_grad=True)
    b = ad.Tensor(0.0, requires_grad=True)
    (w, b), loss = gradient_descent(lambda w, b: bernoulli_nll(x @ w + b, y), [w, b], 1.0, 800)
    assert loss - best < 1e-6
    np.testing.assert_allclose(np.append(w.data, b.data), theta, atol=2e-3)


def test_two_layer_mlp_learns_xor_like_data():
    """Four Gaussian blobs labelled by XOR: not linearly separable. The MLP reaches a mean
    negative log-likelihood below 0.05 nats (a linear model cannot go below log 2 = 0.69)."""
    rng = np.random.default_rng(1)
    centres = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]], dtype=float)
    labels = np.array([0, 0, 1, 1], dtype=float)
    which = rng.integers(0, 4, 256)
    x = centres[which] + 0.2 * rng.standard_normal((256, 2))
    y = labels[which]

    params = [
        ad.Tensor(rng.standard_normal((2, 16)), True),
        ad.Tensor(np.zeros(16), True),
        ad.Tensor(rng.standard_normal((16, 1)) / 4, True),
        ad.Tensor(np.zeros(1), True),
    ]

    def loss(W1, b1, W2, b2):
        return bernoulli_nll((ad.tanh(x @ W1 + b1) @ W2 + b2).reshape(-1), y)

    _, final = gradient_descent(loss, params, 0.5, 500)
    assert final < 0.05
