"""Discrete diffusion against what must hold, on spaces small enough to enumerate
(``scratchgen.discrete_diffusion.exact``): the forward chain's closed forms against the
matrix exponential and against simulation, the posterior against Bayes' rule, every bound at
least the exact NLL of its own model (and tight in the limits where theory says so), the score
entropy minimised by the true ratios, the masked cross-entropy equal to the absorbing score
entropy, the samplers reproducing a known distribution from its exact score, the models'
Monte Carlo losses unbiased for their exact bounds, and conditioning and refusals."""

import numpy as np
import pytest
import scipy.linalg
import scipy.stats

import autodiff as ad
from scratchgen import models
from scratchgen.data import DataInfo
from scratchgen.discrete_diffusion import (
    Graph,
    analytic,
    euler,
    exact,
    masked_cross_entropy,
    reverse_step,
    score_entropy,
    x0_ancestral,
)

KINDS = ("absorbing", "uniform")
P_DATA = np.random.default_rng(0).dirichlet(np.ones(9))  # over the 3^2 sequences of length 2


def _table(graph: Graph, length: int, outputs: int, seed: int = 1) -> np.ndarray:
    """One arbitrary row of numbers per position for every state sequence."""
    return np.random.default_rng(seed).normal(size=(graph.S**length, length, outputs))


def _arbitrary_denoiser(graph: Graph, length: int):
    """A denoiser that is nobody's posterior: softmax of a table, varying with t."""
    table = _table(graph, length, graph.V)

    def denoiser(x, t):
        z = table[exact._index(x, graph.S)] + np.sin(3 * t)[:, None, None] * np.arange(graph.V)
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    return denoiser


def _perturbed_score(graph: Graph, length: int, p_data: np.ndarray):
    """The true concrete score times exp(a table): a score that is not the true ratio."""
    true, table = exact.data_score(graph, p_data, length), 0.3 * _table(graph, length, graph.S)
    return lambda x, t: true(x, t) * np.exp(table[exact._index(x, graph.S)])


@pytest.mark.parametrize("kind", KINDS)
def test_transition_is_the_generators_exponential_and_its_inverse(kind):
    """exp(tau G) in closed form equals scipy's expm, for tau of either sign; a mistake in
    the 1 pi^T term breaks either."""
    graph = Graph(kind, 4)
    for tau in (0.3, 2.0, -0.4):
        assert np.allclose(graph.transition(tau), scipy.linalg.expm(tau * graph.generator()))
    assert np.allclose(graph.transition(0.7) @ graph.transition(-0.7), np.eye(graph.S))


@pytest.mark.parametrize("kind", KINDS)
def test_marginal_matches_a_simulated_chain(kind):
    """q(x_t | x_0) against 20000 tokens run through 25 steps of the chain's own kernels
    exp((sigma_bar_k - sigma_bar_{k-1}) G), by a chi-square test at each of 3 times (false
    failure 1e-4 each)."""
    graph, rng = Graph(kind, 3), np.random.default_rng(2)
    x0 = np.full(20000, 1)
    x, times = x0.copy(), np.linspace(0, 0.96, 26)
    for k in range(1, len(times)):
        kernel = graph.transition(float(graph.sigma_bar(times[k]) - graph.sigma_bar(times[k - 1])))
        x = (np.cumsum(kernel[x], axis=1) < rng.random((len(x), 1))).sum(axis=1)
        if k in (5, 15, 25):
            expected = graph.marginal(np.array([1]), times[k])[0] * len(x)
            counts = np.bincount(x, minlength=graph.S)
            seen = expected > 0
            assert counts[~seen].sum() == 0
            p = scipy.stats.chisquare(counts[seen], expected[seen]).pvalue
            assert p > 1e-4, (k, counts, expected)


@pytest.mark.parametrize("kind", KINDS)
def test_reverse_step_of_a_one_hot_is_bayes_posterior(kind):
    """reverse_step(one-hot x_0) normalised equals q(x_t | x_s) q(x_s | x_0) / q(x_t | x_0)
    written with the transition matrices; with the true posterior p(x_0 | x_t) of a
    one-token distribution it is the true reverse step p(x_s | x_t)."""
    graph = Graph(kind, 3)
    s, t = 0.3, 0.7
    step = graph.transition(float(graph.sigma_bar(t) - graph.sigma_bar(s)))
    Q_s, Q_t = (
        graph.transition(float(graph.sigma_bar(s))),
        graph.transition(float(graph.sigma_bar(t))),
    )
    for x0 in range(graph.V):
        for x_t in range(graph.S):
            if Q_t[x0, x_t] == 0:
                continue
            bayes = step[:, x_t] * Q_s[x0] / Q_t[x0, x_t]
            got = reverse_step(
                graph,
                np.eye(graph.V)[[x0]][None],
                np.array([[x_t]]),
                graph.alpha(s),
                graph.alpha(t),
            )[0, 0]
            assert np.allclose(got / got.sum(), bayes)
    p_data = np.array([0.5, 0.3, 0.2])
    denoiser = exact.data_denoiser(graph, p_data, 1)
    p_s, p_t = p_data @ Q_s[: graph.V], p_data @ Q_t[: graph.V]
    for x_t in range(graph.S):
        true = p_s * step[:, x_t] / p_t[x_t]
        p0 = denoiser(np.array([[x_t]]), np.array([t]))
        got = reverse_step(graph, p0, np.array([[x_t]]), graph.alpha(s), graph.alpha(t))[0, 0]
        assert np.allclose(got, true)


@pytest.mark.parametrize("kind", KINDS)
def test_d3pm_bound_is_above_the_chains_exact_nll(kind):
    """For an arbitrary denoiser, each sequence's bound >= its exact -log p_theta (brute force
    over the 3^2 or 4^2 states), by a margin no rounding explains; with the true posterior the
    bound and the NLL fall toward the data's entropy as T grows, the bound's excess shrinking
    about as 1 / T (the factorised step becomes exact; measured 0.056, 0.014, 0.0035 nats at
    T = 4, 16, 64 under the absorbing graph)."""
    graph = Graph(kind, 3)
    X0 = exact.sequences(3, 2)
    for T in (2, 8):
        nll = exact.chain_nll(graph, _arbitrary_denoiser(graph, 2), T, 2)
        bound = exact.d3pm_bound(graph, _arbitrary_denoiser(graph, 2), X0, T)
        assert np.all(bound - nll > 1e-6), (T, bound - nll)
    entropy = -P_DATA @ np.log(P_DATA)
    gaps = []
    for T in (4, 16, 64):
        denoiser = exact.data_denoiser(graph, P_DATA, 2)
        nll = exact.chain_nll(graph, denoiser, T, 2)
        bound = exact.d3pm_bound(graph, denoiser, X0, T)
        assert np.all(bound >= nll - 1e-9)
        gaps.append(P_DATA @ bound - entropy)
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.3 * gaps[1], gaps


@pytest.mark.parametrize("kind", KINDS)
def test_continuous_bound_is_above_the_reverse_chains_exact_nll(kind):
    """The score-entropy bound (Gauss-Legendre in t, sums over states) >= the reverse CTMC's
    exact -log p_theta (its Kolmogorov equation solved from pi^L), for a score that is not the
    true one; with the true score the reverse chain reproduces the data exactly (NLL = H to
    1e-6 with t_min = 1e-3) and the bound is above it."""
    graph, t_min = Graph(kind, 3), 1e-3
    X0 = exact.sequences(3, 2)
    wrong = _perturbed_score(graph, 2, P_DATA)
    gap = exact.ctmc_bound(graph, wrong, X0, t_min, nodes=100) - exact.ctmc_nll(
        graph, wrong, 2, t_min
    )
    assert np.all(gap > 1e-4), gap
    true = exact.data_score(graph, P_DATA, 2)
    nll = exact.ctmc_nll(graph, true, 2, t_min)
    assert abs(P_DATA @ nll + P_DATA @ np.log(P_DATA)) < 1e-6
    assert np.all(exact.ctmc_bound(graph, true, X0, t_min, nodes=100) >= nll - 1e-9)


@pytest.mark.parametrize("kind", KINDS)
def test_score_entropy_is_minimised_by_the_true_ratios(kind):
    """E_{x_0 ~ p, x_t ~ q} DSE has zero gradient in log s at the true concrete score and grows
    under any perturbation of it (a Bregman divergence in s)."""
    graph, t = Graph(kind, 3), 0.4
    X = exact.sequences(graph.S, 2)
    X0 = exact.sequences(3, 2)
    s_true = exact.data_score(graph, P_DATA, 2)(X, np.full(len(X), t))

    def expected_dse(log_s):
        total = 0.0
        for p, x0 in zip(P_DATA, X0):
            q = exact._noised(graph, x0, t, X)
            seen = q > 0
            dse = score_entropy(graph, log_s[seen], np.broadcast_to(x0, X[seen].shape), X[seen],
                                np.full(seen.sum(), t))  # fmt: skip
            total = total + ad.sum(dse * (p * q[seen]))
        return total

    used = s_true > 0
    log_s = ad.Tensor(np.log(np.where(used, s_true, 1.0)), requires_grad=True)
    best = expected_dse(log_s)
    best.backward()
    assert np.abs(log_s.grad.data[used]).max() < 1e-10
    rng = np.random.default_rng(3)
    for _ in range(5):
        other = ad.Tensor(log_s.data + 0.1 * rng.standard_normal(log_s.shape))
        assert expected_dse(other).item() > best.item()


def test_masked_cross_entropy_equals_absorbing_score_entropy():
    """With s = (alpha_t / (1 - alpha_t)) p0, SEDD's absorbing integrand is MDLM's, example by
    example (Sahoo et al. and Lou et al. train the same bound)."""
    graph, rng = Graph("absorbing", 5), np.random.default_rng(4)
    x0, t = rng.integers(0, 5, (6, 7)), rng.random(6)
    x_t = graph.sample_marginal(x0, t, rng)
    logits = rng.normal(size=(6, 7, 5))
    log_p0 = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    alpha = graph.alpha(t)[:, None, None]
    log_s = np.concatenate([log_p0 + np.log(alpha / (1 - alpha)), np.zeros((6, 7, 1))], axis=-1)
    mdlm = masked_cross_entropy(graph, ad.Tensor(log_p0), x0, x_t, t).data
    sedd = score_entropy(graph, ad.Tensor(log_s), x0, x_t, t).data
    assert np.allclose(mdlm, sedd, rtol=1e-10)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sampler", ["analytic", "euler", "x0"])
def test_samplers_reproduce_a_known_distribution_from_its_exact_score(kind, sampler):
    """20000 sequences of length 2 over 3 tokens, 128 steps, from the true score (or the true
    posterior for the x_0 chain): total variation to P_DATA below 0.03 (measured 0.006-0.015
    at 32 steps; sampling noise alone is about 0.01, and a sign slip in the step's rate gives
    0.2 or more)."""
    graph, rng = Graph(kind, 3), np.random.default_rng(5)
    if sampler == "x0":
        x = x0_ancestral(graph, exact.data_denoiser(graph, P_DATA, 2), (20000, 2), rng, 128)
    else:
        run = analytic if sampler == "analytic" else euler
        x = run(graph, exact.data_score(graph, P_DATA, 2), (20000, 2), rng, 128)
    assert x.max() < 3  # no mask left
    frequencies = np.bincount(exact._index(x, 3), minlength=9) / len(x)
    assert 0.5 * np.abs(frequencies - P_DATA).sum() < 0.03


TINY = DataInfo((3,), "categorical", 2)
MODELS = [("d3pm", {"graph": "absorbing", "T": 6}), ("d3pm", {"graph": "uniform", "T": 6}),
          ("mdlm", {"eval_times": 4, "delta": 0.2}),
          ("sedd", {"graph": "absorbing", "eval_times": 4, "delta": 0.2}),
          ("sedd", {"graph": "uniform", "eval_times": 4, "delta": 0.2})]  # fmt: skip
# delta = 0.2, not 1e-3, so that the decoder's term at t = delta weighs enough to be tested


def _tiny(name, settings):
    return models.create(name, TINY, d_model=8, n_head=2, n_layer=1, dtype="float64", **settings)


def _score(model):
    return model.score if model.registered_name == "sedd" else _mdlm_score(model)


def _exact_bound(model, x0):
    if model.registered_name == "d3pm":
        return exact.d3pm_bound(model.graph, model.denoiser, x0, model.hparams["T"])
    return exact.ctmc_bound(model.graph, _score(model), x0, model.hparams["delta"], nodes=64)


def _mdlm_score(model):
    """MDLM's denoiser as the absorbing concrete score alpha / (1 - alpha) p0."""

    def score(x, t):
        alpha = model.graph.alpha(t)[:, None, None]
        p0 = model.denoiser(x, t) * alpha / (1 - alpha)
        return np.concatenate([p0, np.zeros(p0.shape[:-1] + (1,))], axis=-1)

    return score


@pytest.mark.parametrize("name,settings", MODELS)
def test_models_bound_estimate_is_unbiased_for_the_exact_bound(name, settings):
    """-log_prob of each of the 8 sequences, over 150 fresh evaluation draws, has the exact
    bound of the same network (brute force) as its mean: a z-test on the mean over sequences
    at false-failure rate 1e-4; the exact bound is also at least the model's exact NLL."""
    model = _tiny(name, settings)
    x0 = exact.sequences(2, 3)
    with ad.no_grad():
        target = _exact_bound(model, x0).mean()
        rngs = iter(np.random.default_rng([6, i]) for i in range(150))
        model.evaluation_rng = lambda: next(rngs)
        draws = np.array([-model.log_prob(x0).data.mean() for _ in range(150)])
    z = (draws.mean() - target) / (draws.std(ddof=1) / np.sqrt(len(draws)))
    assert abs(z) < 3.89, (draws.mean(), target, z)
    if name == "d3pm":
        nll = exact.chain_nll(model.graph, model.denoiser, model.hparams["T"], 3)
        assert target >= nll.mean()


@pytest.mark.parametrize("name,settings", MODELS)
def test_training_loss_is_unbiased_for_the_bound_it_trains(name, settings):
    """E[loss] over the model's randomness is the exact bound less the decoder's O(delta)
    term for the continuous models (the bound itself for D3PM): a z-test over 200 losses on
    the 8 sequences at false-failure rate 1e-4, and its gradient flows to every parameter."""
    model = _tiny(name, settings)
    x0 = exact.sequences(2, 3)
    with ad.no_grad():
        target = _exact_bound(model, x0).mean()
        if name != "d3pm":
            target -= exact.decoder_nll(
                model.graph, _score(model), x0, model.hparams["delta"]
            ).mean()
        losses = np.array([model.loss(x0).item() for _ in range(200)])
    z = (losses.mean() - target) / (losses.std(ddof=1) / np.sqrt(len(losses)))
    assert abs(z) < 3.89, (losses.mean(), target, z)
    model.loss(x0).backward()
    assert all(p.grad is not None and np.any(p.grad.data != 0) for p in model.parameters())


@pytest.mark.parametrize("name,settings", [MODELS[0], MODELS[2], MODELS[4]])
def test_prompts_and_infilling_keep_the_given_tokens(name, settings):
    """A prefix prompt stays in front and an infilling mask's observed tokens stay put, through
    every step of the trajectory; the rest is sampled (not all copies of the given)."""
    model = models.create(name, DataInfo((12,), "categorical", 4), d_model=8, n_head=2,
                          n_layer=1, sample_steps=6, **settings)  # fmt: skip
    rng = np.random.default_rng(7)
    prompt = np.array([3, 1, 2])
    x = model.sample(5, rng, given=prompt)
    assert x.shape == (5, 12) and np.all(x[:, :3] == prompt) and x.max() < 4
    given, known = rng.integers(0, 4, 12), np.arange(12) % 3 == 0
    x, trajectory = model.sample(5, rng, given=given, mask=known, return_trajectory=True)
    assert all(np.all(state[:, known] == given[known]) for state in trajectory)
    assert len(trajectory) == 7 and np.any(x[:, ~known] != given[~known])


@pytest.mark.parametrize("call,message", [
    (lambda m: m.sample(2, np.random.default_rng(0), given=[0, 9]), "tokens must lie in"),
    (lambda m: m.sample(2, np.random.default_rng(0), mask=[True] * 12), "mask needs"),
    (lambda m: m.sample(2, np.random.default_rng(0), given=[0] * 13), "longer than"),
    (lambda m: m.sample(2, np.random.default_rng(0), steps=7), "must divide T"),
    (lambda m: m.loss(np.full((2, 12), 4)), "tokens must lie in"),
    (lambda m: m.loss(np.zeros((2, 11))), "expected examples of shape"),
])  # fmt: skip
def test_bad_input_is_refused_in_one_line(call, message):
    model = models.create("d3pm", DataInfo((12,), "categorical", 4), d_model=8, n_head=2,
                          n_layer=1, T=12)  # fmt: skip
    with pytest.raises(ValueError, match=message) as error:
        call(model)
    assert "\n" not in str(error.value)


def test_models_refuse_data_that_is_not_token_sequences():
    with pytest.raises(models.UnsupportedData, match="token sequences"):
        models.create("mdlm", DataInfo((8, 8), "categorical", 17))
    with pytest.raises(ValueError, match="eps is 0"):
        Graph("absorbing", 3, eps=0.1)
