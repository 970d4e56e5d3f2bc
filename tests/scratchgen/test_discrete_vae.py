"""The discrete-latent VAE, where every expectation can be enumerated: 2 categorical latents of
3 categories (9 codes) over 2x2 binary images (16 images).

log p(x) = logsumexp_z [log p(x | z) + log p(z)] and E_q[log p(x | z)] = sum_z q(z | x) log
p(x | z) are exact, so the bounds, the sampler and every estimator's bias can be checked.
Monte Carlo checks allow 6 standard errors (a false failure about once in 10^9 runs each)."""

import itertools

import numpy as np
import pytest

import autodiff as ad
from scratchgen import data, models, train
from scratchgen import distributions as D
from scratchgen.estimators import gradient_variance
from scratchgen.models.latent import bounds
from scratchgen.testing import assert_samples_match

TINY = data.DataInfo((1, 2, 2), "binary")
SPACE = np.array(list(itertools.product([0, 1], repeat=4)), dtype=float).reshape(-1, 1, 2, 2)
CODES = np.array(list(itertools.product(range(3), repeat=2)))  # (9, G=2)


def tiny(seed=0, **settings):
    """N(0, 1) parameters, except the encoder's output layer at a fifth of that: q stays
    spread over the codes, so that the importance weights p(x, z) / q(z | x) stay bounded (a
    random peaked q leaves codes that matter with q near 0, and heavy-tailed weights)."""
    model = models.create("discrete_vae", TINY, groups=2, categories=3, hidden=(6,),
                          dtype=np.float64, **settings)  # fmt: skip
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data = rng.standard_normal(p.shape)
    for p in model.encoder.head.net[-1].parameters():
        p.data *= 0.2
    return model


def log_px_given_codes(model, x):
    """log p(x | z) for every code: (9, n)."""
    return model.likelihood(ad.Tensor(CODES[:, None, :])).log_prob(model.targets(ad.Tensor(x)))


def exact_log_marginal(model, x=SPACE):
    with ad.no_grad():
        return ad.logsumexp(log_px_given_codes(model, x) - 2 * np.log(3), axis=0).data


def exact_loss(model, x=SPACE):
    """-1/n sum_x [sum_z q(z | x) log p(x | z) - KL(q || p)], differentiable in everything."""
    q = model.posterior(ad.Tensor(x))
    log_q = q.log_prob(ad.Tensor(CODES[:, None, :]))  # (9, n)
    expected = ad.sum(ad.exp(log_q) * log_px_given_codes(model, x), axis=0)
    return -ad.mean(expected - D.kl_divergence(q, model.prior()))


def test_marginal_sums_to_one_and_bounds_sit_below_it():
    model = tiny()
    log_px = exact_log_marginal(model)
    assert np.exp(log_px).sum() == pytest.approx(1.0, abs=1e-12)
    with ad.no_grad():
        exact_elbo = -exact_loss(model).item() * len(SPACE)  # sum over the 16 images
        elbo = np.stack([model.elbo(SPACE).data for _ in range(4000)])
        iwae = model.log_prob(SPACE, k=3000).data
        weights = np.exp(bounds.log_weights(model.targets(ad.Tensor(SPACE)),
                                            model.posterior(ad.Tensor(SPACE)), model.prior(),
                                            model.likelihood, 20_000, model.rng).data)  # fmt: skip
    assert exact_elbo < log_px.sum()
    se = elbo.sum(1).std() / np.sqrt(len(elbo))
    assert abs(elbo.sum(1).mean() - exact_elbo) < 6 * se
    # the mean importance weight is an unbiased estimate of p(x); its log, L_K, is close
    weight_se = weights.std(0) / np.sqrt(len(weights))
    assert np.all(np.abs(weights.mean(0) - np.exp(log_px)) < 6 * weight_se)
    np.testing.assert_allclose(iwae, log_px, atol=0.1)


def test_samples_follow_the_enumerated_marginal():
    model = tiny(1)
    p = np.exp(exact_log_marginal(model))
    samples = model.sample(20_000, np.random.default_rng(2))
    assert_samples_match(samples, p)


def mean_gradient(model, replicates):
    """The mean and standard error of the loss gradient over fresh draws: (P,), (P,)."""
    params = list(model.parameters())
    rows = np.array([np.concatenate([g.data.ravel() for g in ad.grad(model.loss(SPACE), params)])
                     for _ in range(replicates)])  # fmt: skip
    return rows.mean(0), rows.std(0) / np.sqrt(replicates)


@pytest.mark.parametrize(
    "settings",
    [
        {"baseline": "none"},
        {"baseline": "leave_one_out", "samples": 3},
        {"baseline": "nvil"},
    ],  # fmt: skip
)
def test_reinforce_gradients_are_unbiased_for_encoder_and_decoder(settings):
    """Against the gradient of the enumerated loss (NVIL's own baseline network excepted: its
    gradient is that of its regression, not of the ELBO). In eval mode NVIL's running
    statistics stay at their start (mean 0, variance 1): its variance normalisation, which
    divides the signal by a running standard deviation, is a change of step size that depends
    on the past, and with it frozen at 1 the estimate itself must be unbiased."""
    model = tiny(3, estimator="reinforce", **settings).eval()
    named = list(model.named_parameters())
    grads = ad.grad(exact_loss(model), [p for _, p in named], allow_unused=True)
    exact = np.concatenate([np.zeros(p.size) if g is None else g.data.ravel()
                            for g, (_, p) in zip(grads, named)])  # fmt: skip
    mean, se = mean_gradient(model, 3000)
    of_the_elbo = np.concatenate([np.full(p.size, not name.startswith("baseline_net"))
                                  for name, p in named])  # fmt: skip
    assert np.all(np.abs(mean - exact)[of_the_elbo] < 6 * se[of_the_elbo] + 1e-9)


def test_relaxed_estimators_are_biased_but_low_in_variance():
    """Gumbel-softmax at tau = 1 optimises a different objective: its mean gradient misses the
    exact one by many standard errors; straight-through too. Their variance, and NVIL's, is
    far below plain REINFORCE's on the same model."""
    variances = {}
    for settings in [{"estimator": "reinforce", "baseline": "none"},
                     {"estimator": "reinforce", "baseline": "nvil"},
                     {"estimator": "gumbel"}, {"estimator": "straight_through"}]:  # fmt: skip
        model = tiny(4, **settings)
        params = list(model.encoder.parameters())
        if settings["estimator"] != "reinforce":
            exact = np.concatenate([g.data.ravel() for g in ad.grad(exact_loss(model), params)])
            rows = np.array([np.concatenate([g.data.ravel()
                                             for g in ad.grad(model.loss(SPACE), params)])
                             for _ in range(2000)])  # fmt: skip
            se = rows.std(0) / np.sqrt(len(rows))
            assert np.max(np.abs(rows.mean(0) - exact) / (se + 1e-12)) > 10
        variances[str(settings)] = gradient_variance(lambda m=model: m.loss(SPACE), params, 500)
    plain = variances[str({"estimator": "reinforce", "baseline": "none"})]
    assert all(v < plain for k, v in variances.items() if "none" not in k)


def test_temperature_anneals_to_its_floor():
    model = tiny(5, temperature=2.0, temperature_min=0.5, anneal_rate=0.1)
    taus = []
    for _ in range(30):
        taus.append(model.temperature())
        model.loss(SPACE)
    np.testing.assert_allclose(taus, np.maximum(0.5, 2.0 * np.exp(-0.1 * np.arange(30))))


@pytest.mark.parametrize("settings, message", [
    ({"estimator": "vimco"}, "estimator must be one of"),
    ({"baseline": "mean"}, "baseline must be one of"),
    ({"estimator": "reinforce", "baseline": "leave_one_out"}, "needs samples >= 2"),
    ({"categories": 1}, "categories must be an integer from 2"),
    ({"temperature": 0.1}, "temperature_min .* must not exceed temperature"),
])  # fmt: skip
def test_bad_settings_are_one_line_errors(settings, message):
    with pytest.raises(ValueError, match=message) as error:
        models.create("discrete_vae", TINY, **settings)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("estimator", ["gumbel", "reinforce"])
def test_discrete_vae_learns_the_binary_digits(estimator):
    digits = data.load("digits_binary")
    model = models.create("discrete_vae", digits.info, hidden=(128,), estimator=estimator,
                          baseline="leave_one_out", samples=4)  # fmt: skip
    metrics = train.fit(model, digits, progress=False, steps=800, batch_size=64, lr=3e-3,
                        eval_every=10**9)  # fmt: skip
    assert metrics["test_nll"] < 23  # uniform: 44.4 nats
    assert metrics["test_elbo"] < -metrics["test_nll"] + 0.1
