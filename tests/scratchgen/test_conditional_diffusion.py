"""Class-conditional diffusion models with classifier-free guidance (Ho & Salimans 2022), on
the eight Gaussians labelled by their mode: each label samples its own mode, the null class
samples them all, w = 0 is the conditional model with no null pass, sampling never drops a
label, training drops them at p_uncond, and the conditional bound classifies."""

import functools

import numpy as np
import pytest
from scipy import stats

from scratchgen import data, diffusion, models, train
from scratchgen.data import toy2d
from scratchgen.data.dataset import Dataset

TOY = data.load("eight_gaussians")
CENTRES = np.asarray(toy2d.MODES["eight_gaussians"][0])
K = len(CENTRES)
SETTINGS = {"ddpm": {"timesteps": 100}, "score_sde": {"sample_steps": 200}}


def mode(x):
    return np.argmin(((x[:, None] - CENTRES[None]) ** 2).sum(-1), axis=1)


LABELLED = Dataset("eight_gaussians_labelled", TOY.train, TOY.test, TOY.info, mode(TOY.train),
                   mode(TOY.test))  # fmt: skip


def conditional(name, **settings):
    return models.create(name, TOY.info, **{"hidden": [64, 64, 64], "num_classes": K,
                                            **SETTINGS[name], **settings})  # fmt: skip


@functools.cache
def trained_model(name):
    model = conditional(name)
    train.fit(model, LABELLED, steps=1500, batch_size=256, lr=3e-3, progress=False)
    return model


@pytest.fixture(params=list(SETTINGS))
def trained(request):
    return trained_model(request.param)


def test_each_label_samples_its_own_mode_and_the_null_class_all(trained):
    """At w = 0 and w = 2, at least 95% of 800 samples lie nearest their label's centre (an
    untrained network: about 1/8); with y=None every mode holds 5% of them or more."""
    rng = np.random.default_rng(0)
    y = np.arange(800) % K
    for w in (0.0, 2.0):
        assert np.mean(mode(trained.sample(800, rng, y=y, guidance=w)) == y) > 0.95
    counts = np.bincount(mode(trained.sample(800, rng)), minlength=K)
    assert counts.min() > 0.05 * 800, counts
    fresh = conditional(trained.registered_name)
    assert np.mean(mode(fresh.sample(800, rng, y=y)) == y) < 0.5


def spy_on_labels(model, monkeypatch):
    """The labels of every network pass, appended to the list returned."""
    seen, network = [], model.network

    def recorded(x, t, y=None):
        seen.append(None if y is None else np.array(y))
        return network(x, t, y)

    monkeypatch.setattr(model, "network", recorded)
    return seen


def test_no_guidance_is_the_conditional_model_and_sampling_never_drops_a_label(monkeypatch):
    """p_uncond = 1 in training would be the strongest temptation to drop: still, every pass at
    w = 0 sees the label given, and the chain is the conditional eps's chain to the bit; at
    w > 0 half the passes see the null class, the other half the label."""
    model = conditional("ddpm", p_uncond=1.0)
    seen = spy_on_labels(model, monkeypatch)
    samples = model.sample(6, np.random.default_rng(3), y=5)
    assert len(seen) == 100 and all((labels == 5).all() for labels in seen)
    by_hand = diffusion.ddpm_ancestral(model.schedule, lambda x, t: model.eps(x, t, np.full(6, 5)),
                                       (6, 2), np.random.default_rng(3), "beta")  # fmt: skip
    np.testing.assert_array_equal(samples, by_hand)
    seen.clear()
    model.sample(6, np.random.default_rng(3), y=5, guidance=1.5)
    assert sum((labels == K).all() for labels in seen) == 100
    assert sum((labels == 5).all() for labels in seen) == 100


@pytest.mark.parametrize("name", list(SETTINGS))
def test_training_drops_labels_to_the_null_class_at_p_uncond(name, monkeypatch):
    """Over 40 losses of 256 examples the null class's count is Binomial(10240, 0.3): a
    two-sided test at a false-failure rate of 1e-6; the labels kept are the labels given."""
    model = conditional(name, p_uncond=0.3)
    seen = spy_on_labels(model, monkeypatch)
    given = []
    for _, x in zip(range(40), LABELLED.batches(256, np.random.default_rng(0))):
        given.append(mode(x))
        model.loss(x, given[-1])
    seen, given = np.concatenate(seen), np.concatenate(given)
    null = seen == K
    assert stats.binomtest(int(null.sum()), len(seen), 0.3).pvalue > 1e-6
    np.testing.assert_array_equal(seen[~null], given[~null])
    never = conditional(name, p_uncond=0.0)
    assert (never.training_labels(given, len(given)) == given).all()


def test_the_conditional_bound_classifies_by_bayes_rule():
    """argmax_y of -L_vlb(x | y) names the mode of 95% of 200 test points or more."""
    x = TOY.test[:200]
    assert np.mean(trained_model("ddpm").classify(x) == mode(x)) > 0.95


def test_conditions_are_refused_in_one_line():
    plain = models.create("ddpm", TOY.info, timesteps=100, hidden=[8])
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="not class-conditional"):
        plain.sample(2, rng, y=1)
    with pytest.raises(ValueError, match="not class-conditional"):
        plain.sample(2, rng, guidance=1.0)
    model = conditional("ddpm")
    with pytest.raises(ValueError, match="guidance steers toward labels; give y"):
        model.sample(2, rng, guidance=1.0)
    with pytest.raises(ValueError, match="w must be >= 0"):
        model.sample(2, rng, y=1, guidance=-1.0)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 8\)"):
        model.sample(2, rng, y=8)
