"""The RBM against brute force: its free energy and log Z by enumeration, a distribution that
sums to one, CD-k's gradient closing on the exact one as k grows, AIS's Z unbiased and its
log Z at the enumerated value, and training that lifts digits' exact test log-likelihood."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

import autodiff as ad
from scratchgen import data, models, train
from scratchgen.data import DataInfo
from scratchgen.models.energy import contrastive_divergence
from scratchgen.models.energy.rbm import ais_schedule

Z = 4.89  # two-sided normal quantile for a false-failure rate of 1e-6


def random_rbm(D, H, seed=0, scale=1.0):
    model = models.create("rbm", DataInfo((D,), "binary"), hidden=H, dtype="float64")
    rng = np.random.default_rng(seed)
    model.W.data[...] = rng.normal(0, scale, (D, H))
    model.b.data[...] = rng.normal(0, 1, D)
    model.c.data[...] = rng.normal(0, 1, H)
    return model


def all_states(n):
    return np.array(list(itertools.product((0.0, 1.0), repeat=n)))


def test_free_energy_and_log_z_agree_with_the_sum_over_every_joint_state():
    model = random_rbm(5, 4)
    v, h = all_states(5), all_states(4)
    joint = -np.array([[model.joint_energy(vi[None], hj[None])[0] for hj in h] for vi in v])
    np.testing.assert_allclose(model.free_energy(v).data, -logsumexp(joint, axis=1))
    assert model.exact_log_partition() == pytest.approx(logsumexp(joint))
    assert np.exp(model.log_prob(v).data).sum() == pytest.approx(1.0)
    assert not model.log_prob_is_estimate


def test_cd_k_gradient_closes_on_the_exact_gradient_as_k_grows():
    """On a 6-4 RBM with strong weights, the CD-k gradient in W (averaged over 3000 chains
    per data point) against the exact -d/dW mean log p, whose model term is a sum over all 64
    visible states: CD-1 is visibly biased, CD-100 is within the chains' noise (about 0.003
    against a gradient of norm 1.6)."""
    model = random_rbm(6, 4, scale=1.5)
    rng = np.random.default_rng(0)
    x = (rng.random((30, 6)) < 0.5).astype(float)
    states = all_states(6)
    p = ad.Tensor(np.exp(model.log_prob(states).data))
    exact_loss = ad.mean(model.free_energy(x)) - ad.sum(p * model.free_energy(states))
    (exact,) = ad.grad(exact_loss, model.W)
    repeated = np.repeat(x, 3000, axis=0)
    errors = {}
    for k in (1, 2, 5, 100):
        negatives = model.gibbs(repeated, k, rng)
        loss = contrastive_divergence(model.free_energy(repeated), model.free_energy(negatives))
        (g,) = ad.grad(loss, model.W)
        errors[k] = np.linalg.norm(g.data - exact.data)
    assert errors[1] > errors[2] > errors[5]
    assert errors[1] > 0.1 and errors[100] < 0.02


def test_ais_estimates_z_without_bias():
    """exp(log w_i - log Z) has mean 1 for each chain: over 4000 chains of a short schedule
    (40 steps, where the weights spread), their mean is within Z standard errors of 1."""
    model = random_rbm(8, 6, seed=1)
    model.base_bias[...] = np.random.default_rng(2).normal(0, 1, 8)
    ratios = np.exp(model.ais_log_weights(np.random.default_rng(3), 4000, 40)
                    - model.exact_log_partition())  # fmt: skip
    assert ratios.std() > 0.05
    assert abs(ratios.mean() - 1) < Z * ratios.std() / math.sqrt(len(ratios))


def test_the_tempered_sweep_leaves_its_distribution_invariant():
    """200 000 exact draws from p_beta (beta = 0.5, enumerated over 16 visible states) after
    one sweep: a chi-square test at a false-failure rate of 1e-6. At beta = 0, p*_beta sums
    to Z_A = 2^H prod_i (1 + e^b_A,i)."""
    model = random_rbm(4, 3, seed=6, scale=2.0)
    model.base_bias[...] = [0.5, -1.0, 0.0, 1.5]
    states, rng = all_states(4), np.random.default_rng(7)
    log_p = model.log_tempered(states, 0.5)
    p = np.exp(log_p - logsumexp(log_p))
    after = model.tempered_gibbs(states[rng.choice(16, size=200_000, p=p)], 0.5, rng)
    counts = np.bincount((after @ 2 ** np.arange(3, -1, -1)).astype(int), minlength=16)
    assert stats.chisquare(counts, 200_000 * p).pvalue > 1e-6
    log_z_a = 3 * math.log(2) + np.sum(np.log1p(np.exp(model.base_bias)))
    assert logsumexp(model.log_tempered(states, 0.0)) == pytest.approx(log_z_a)


def test_past_the_enumerable_size_log_z_is_ais_and_matches_a_sum_over_visible_states():
    model = random_rbm(8, 24, seed=4, scale=0.3)
    exact = float(logsumexp(-model.free_energy(all_states(8)).data))
    assert model.log_prob_is_estimate
    assert model.log_partition(np.random.default_rng(5)) == pytest.approx(exact, abs=0.05)
    with pytest.raises(ValueError, match="offered up to 20 hidden units"):
        model.exact_log_partition()


def test_the_schedule_runs_from_zero_to_one_in_salakhutdinov_and_murrays_proportions():
    betas = ais_schedule(14_500)
    assert len(betas) == 14_501 and betas[0] == 0 and betas[-1] == 1
    assert np.all(np.diff(betas) > 0)
    assert np.sum(betas < 0.5) == 967 and np.sum(betas < 0.9) == 967 + 3867


DIGITS = data.load("digits_binary")


@pytest.mark.parametrize("persistent", [False, True])
def test_cd_and_pcd_lift_the_exact_test_log_likelihood_of_binary_digits(persistent):
    """From the base-rate model (independent pixels at the data's marginals, where
    initialisation puts the RBM) up by more than 3 nats in 600 updates of 16 hidden units."""
    model = models.create("rbm", DIGITS.info, hidden=16, persistent=persistent)
    model.initialize(DIGITS.train, np.random.default_rng(0))
    before = model.log_prob(DIGITS.test).data.mean()
    config = train.TrainConfig(steps=600, batch_size=32, lr=0.01, eval_every=10**9)
    train.Trainer(model, DIGITS, config, progress=False).fit()
    assert model.log_prob(DIGITS.test).data.mean() > before + 3
    assert model.diagnostics()["reconstruction_error"] < 0.1


def test_samples_are_binary_images_and_persistent_chains_resume(tmp_path):
    def run(folder, steps):
        model = models.create("rbm", DIGITS.info, hidden=8, persistent=True, chains=20, seed=2)
        config = train.TrainConfig(steps=steps, batch_size=16, seed=2, eval_every=10**9,
                                   checkpoint_every=3)  # fmt: skip
        return train.Trainer(model, DIGITS, config, tmp_path / folder, progress=False), model

    straight, model = run("straight", 7)
    straight.fit()
    run("resumed", 4)[0].fit()
    second, resumed = run("resumed", 7)
    second.load(tmp_path / "resumed")
    second.fit()
    np.testing.assert_array_equal(model.chains, resumed.chains)
    np.testing.assert_array_equal(model.W.data, resumed.W.data)
    rng = np.random.default_rng(0)
    for x in (model.sample(5, rng, steps=10), model.sample(5, rng, from_chains=True)):
        assert x.shape == (5, 1, 8, 8) and set(np.unique(x)) <= {0, 1}
    with pytest.raises(ValueError, match="from 20 persistent chains"):
        model.sample(21, rng, from_chains=True)
