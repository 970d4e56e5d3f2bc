"""FVSBN, NADE and MADE: the properties every autoregressive model must have.

On a space small enough to enumerate (2x4 binary images: 256 configurations) the
probabilities sum to one, each conditional depends on earlier dimensions only, and samples
match the enumerated probabilities.
"""

import itertools

import numpy as np
import pytest
from scipy import stats

import autodiff as ad
from scratchgen import data, models, train

INFO = data.DataInfo((2, 4), "binary")
SPACE = np.array(list(itertools.product([0, 1], repeat=8))).reshape(-1, 2, 4)
MODELS = {
    "fvsbn": {},
    "nade": {"hidden": 5},
    "made": {"hidden": (7, 7)},
    "made_ensemble": {"hidden": (7, 7), "num_masks": 3},
}


def build(name, seed=0):
    model = models.create(name.removesuffix("_ensemble"), INFO, **MODELS[name])
    rng = np.random.default_rng(seed + 1)
    for p in model.parameters():  # random parameters: the zero start would hide errors
        p.data = rng.standard_normal(p.shape).astype(p.dtype)
    return model


def enumerated_probabilities(model):
    with ad.no_grad():
        return np.exp(model.log_prob(SPACE).data.astype(np.float64))


@pytest.mark.parametrize("name", MODELS)
def test_probabilities_sum_to_one_before_and_after_training(name):
    model = build(name)
    assert enumerated_probabilities(model).sum() == pytest.approx(1.0, abs=1e-5)
    rng = np.random.default_rng(0)
    dataset = data.from_array(rng.integers(0, 2, (400, 2, 4)), kind="binary")
    train.fit(model, dataset, progress=False, steps=30, batch_size=32, lr=0.05, eval_every=10**9)
    assert enumerated_probabilities(model).sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_each_conditional_sees_only_earlier_dimensions(name):
    """d logit_d / d x_j = 0 unless j comes before d in the ordering (every mask of MADE)."""
    model = build(name).to(np.float64)
    masks = range(len(model.orderings)) if hasattr(model, "orderings") else [None]
    x0 = np.random.default_rng(2).random((1, 8))  # a generic point: no accidental zeros
    for m in masks:
        if m is not None:
            model.active = m
        order = model.ordering
        position = np.empty(8, dtype=int)
        position[order] = np.arange(8)
        for d in range(8):
            x = ad.Tensor(x0, requires_grad=True)
            (g,) = ad.grad(model.conditional_logits(x)[0, d], x, allow_unused=True)
            seen = np.zeros(8) if g is None else g.data[0]
            later = position >= position[d]
            assert np.all(seen[later] == 0), f"{name}: logit {d} depends on a later dimension"


@pytest.mark.parametrize("name", MODELS)
def test_samples_match_the_enumerated_probabilities(name):
    """Chi-square goodness of fit over the 256 configurations (cells with expected count < 5
    pooled), at a false-failure rate of 1e-6 with a fixed seed."""
    model = build(name)
    p = enumerated_probabilities(model)
    n = 40_000
    samples = model.sample(n, np.random.default_rng(3)).reshape(n, 8).astype(int)
    index = samples @ (1 << np.arange(7, -1, -1))  # the configuration's row in SPACE
    observed = np.bincount(index, minlength=256)
    expected = n * p
    big = expected >= 5
    if not big.all():  # pool the rare configurations into one cell
        observed = np.append(observed[big], observed[~big].sum())
        expected = np.append(expected[big], expected[~big].sum())
    chi2 = np.sum((observed - expected) ** 2 / expected)
    assert chi2 < stats.chi2.ppf(1 - 1e-6, df=len(observed) - 1)


def test_made_ensemble_is_the_mean_of_its_members():
    model = build("made_ensemble")
    with ad.no_grad():
        members = [np.exp(model._log_prob_with(SPACE, m).data) for m in range(3)]
    np.testing.assert_allclose(enumerated_probabilities(model), np.mean(members, 0), rtol=1e-5)


@pytest.mark.slow
def test_training_on_binary_digits_orders_the_models():
    """A modest budget on the 8x8 binary digits: each model learns (NLL far below the 64 log 2
    = 44.4 nats of a uniform model), and NADE and MADE beat FVSBN, as in the literature."""
    digits = data.load("digits_binary")
    nll = {}
    for name, hp in [("fvsbn", {}), ("nade", {"hidden": 64}), ("made", {"hidden": (128, 128)})]:
        model = models.create(name, digits.info, **hp)
        nll[name] = train.fit(model, digits, progress=False, steps=600, batch_size=64, lr=0.01,
                              eval_every=10**9)["test_nll"]  # fmt: skip
    assert all(v < 25 for v in nll.values()), nll
    assert nll["nade"] < nll["fvsbn"] and nll["made"] < nll["fvsbn"], nll
