"""The energy objectives: contrastive divergence's gradient is maximum likelihood's when the
negative samples come from the model; noise-contrastive estimation recovers the normaliser."""

import math

import numpy as np
import pytest
from scipy import optimize

import autodiff as ad
from scratchgen.models.energy import contrastive_divergence, nce_loss

Z = 4.89  # two-sided normal quantile for a false-failure rate of 1e-6


def test_contrastive_divergence_has_the_maximum_likelihood_gradient_given_model_samples():
    """E_theta(x) = theta x^2 / 2 is N(0, 1/theta) with log Z = 1/2 log(2 pi / theta), so
    -d/dtheta mean log p(x+) = mean(x+^2) / 2 - 1 / (2 theta). With x- drawn from the model,
    the surrogate's gradient mean(x+^2)/2 - mean(x-^2)/2 is unbiased for it: over 400 draws
    of 500 negatives its mean is within Z standard errors. The penalty adds
    alpha d/dtheta (mean E+^2 + mean E-^2)."""
    rng = np.random.default_rng(0)
    theta_value, x_pos = 2.0, rng.normal(0.0, 1.5, 1000)
    exact = np.mean(x_pos**2) / 2 - 1 / (2 * theta_value)

    def gradient(x_neg, alpha=0.0):
        theta = ad.Tensor(np.array(theta_value), requires_grad=True)
        energy = lambda x: theta * ad.Tensor(x**2 / 2)  # noqa: E731
        loss = contrastive_divergence(energy(x_pos), energy(x_neg), alpha=alpha)
        return ad.grad(loss, theta)[0].item()

    draws = np.array([gradient(rng.normal(0, 1 / math.sqrt(theta_value), 500))
                      for _ in range(400)])  # fmt: skip
    assert abs(draws.mean() - exact) < Z * draws.std() / math.sqrt(len(draws))
    x_neg = rng.normal(0, 1, 500)
    penalty = 2 * theta_value * (np.mean(x_pos**4) + np.mean(x_neg**4)) / 4
    assert gradient(x_neg, alpha=0.1) == pytest.approx(gradient(x_neg) + 0.1 * penalty)


@pytest.mark.parametrize("nu", [1, 3])
def test_nce_recovers_the_normaliser_of_a_gaussian(nu):
    """Model log p_m(u) = -||u - mu||^2 / (2 s^2) + c in 2-D with mu, log s and c free; data
    N((1, -1), 0.8^2 I); noise N(0, 2^2 I), nu noise samples per data point. The fit (L-BFGS
    on our loss and its gradient) finds the data's mean and scale, and c = -log Z =
    -log(2 pi 0.8^2) = -1.39 within 0.07, from c = 0 (over seeds, the fitted c's standard
    deviation at 20 000 data points was 0.03 with nu = 1 and 0.01 with nu = 3; here there
    are 100 000)."""
    rng = np.random.default_rng(1)
    n, s_true = 100_000, 0.8
    x = np.array([1.0, -1.0]) + s_true * rng.standard_normal((n, 2))
    noise = 2.0 * rng.standard_normal((nu * n, 2))
    log_noise = lambda u: -np.sum(u**2, axis=1) / 8 - math.log(2 * math.pi * 4)  # noqa: E731

    def loss_and_grad(params):
        p = ad.Tensor(params, requires_grad=True)

        def log_model(u):
            d = u - p[:2]
            return -ad.sum(d * d, axis=1) / (2 * ad.exp(2 * p[2])) + p[3]

        loss = nce_loss(log_model, x, noise, log_noise)
        return loss.item(), ad.grad(loss, p)[0].data

    fit = optimize.minimize(loss_and_grad, np.zeros(4), jac=True, method="L-BFGS-B")
    assert fit.success
    np.testing.assert_allclose(fit.x[:2], [1.0, -1.0], atol=0.05)
    assert math.exp(fit.x[2]) == pytest.approx(s_true, abs=0.015)
    assert fit.x[3] == pytest.approx(-math.log(2 * math.pi * s_true**2), abs=0.07)


def test_bad_inputs_are_one_line_errors():
    e = ad.Tensor(np.zeros(4))
    for call, message in [
        (lambda: contrastive_divergence(ad.Tensor(np.zeros((4, 2))), e), "shape \\(n,\\)"),
        (lambda: contrastive_divergence(e, e, alpha=-1.0), "alpha must be >= 0"),
        (lambda: nce_loss(lambda u: u, np.zeros((3, 2)), np.zeros((3, 3)), None), "differ"),
    ]:
        with pytest.raises(ValueError, match=message) as error:
            call()
        assert "\n" not in str(error.value)
