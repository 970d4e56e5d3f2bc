"""FVSBN, NADE and MADE: the properties every autoregressive model must have.

On a space small enough to enumerate (2x4 binary images: 256 configurations) the
probabilities sum to one, each conditional depends on earlier dimensions only, and samples
match the enumerated probabilities.
"""

import itertools

import numpy as np
import pytest

import autodiff as ad
from scratchgen import data, models, train
from scratchgen.data import waves
from scratchgen.testing import assert_chi_square_fits as assert_fits
from scratchgen.testing import assert_samples_match

INFO = data.DataInfo((2, 4), "binary")
SPACE = np.array(list(itertools.product([0, 1], repeat=8))).reshape(-1, 2, 4)
MODELS = {
    "fvsbn": {},
    "nade": {"hidden": 5},
    "made": {"hidden": (7, 7)},
    "made_ensemble": {"hidden": (7, 7), "num_masks": 3},
}


def randomized(model, seed, dtype=None):
    """The model with N(0, 1) parameters: a zero or tiny start would hide ordering errors."""
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data = rng.standard_normal(p.shape).astype(dtype or p.dtype)
    return model


def build(name, seed=0):
    return randomized(models.create(name.removesuffix("_ensemble"), INFO, **MODELS[name]), seed + 1)


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
    assert_fits(np.bincount(index, minlength=256), n * p)


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


# ---------------------------------------------------------------- PixelCNN and Gated PixelCNN
PIXEL_MODELS = ["pixelcnn", "gated_pixelcnn"]
PIXEL_SPACES = {
    "grey_binary": (data.DataInfo((1, 2, 3), "binary"), [0, 1], 4),
    "grey_3_levels": (data.DataInfo((1, 1, 3), "categorical", 3), [0, 1, 2], 4),
    "rgb_binary": (data.DataInfo((3, 1, 2), "binary"), [0, 1], 6),
    "rgb_3_levels": (data.DataInfo((3, 1, 1), "categorical", 3), [0, 1, 2], 6),
}


def build_pixelcnn(space, name="pixelcnn", **hparams):
    info, values, filters = PIXEL_SPACES[space]
    model = models.create(name, info, filters=filters, layers=2, kernel_size=3, **hparams)
    model = randomized(model, 1)
    every = np.array(list(itertools.product(values, repeat=info.dims))).reshape((-1,) + info.shape)
    return model, every


@pytest.mark.parametrize("name", PIXEL_MODELS)
@pytest.mark.parametrize("space", PIXEL_SPACES)
def test_pixelcnn_probabilities_sum_to_one(name, space):
    model, every = build_pixelcnn(space, name)
    with ad.no_grad():
        assert np.exp(model.log_prob(every).data.astype(float)).sum() == pytest.approx(1, abs=1e-5)


@pytest.mark.parametrize("name", PIXEL_MODELS)
def test_pixelcnn_sees_earlier_pixels_and_earlier_colours_only(name):
    """The logits of channel c at pixel (i, j) have zero gradient with respect to every later
    pixel in raster order, and to channels c, c+1, ... of pixel (i, j) itself; they do depend
    on the earlier colours of (i, j)."""
    info = data.DataInfo((3, 4, 4), "binary")
    model = models.create(name, info, filters=6, layers=2, kernel_size=5).to(np.float64)
    model = randomized(model, 0)
    rng = np.random.default_rng(1)
    order = np.arange(16).reshape(4, 4)
    for c, i, j in [(0, 0, 0), (1, 2, 1), (2, 3, 3), (0, 1, 3), (2, 0, 0)]:
        # a batch of inputs: a ReLU that is off for one input may be on for another, so the
        # union of the gradients shows every connection
        x = ad.Tensor(rng.random((8, 3, 4, 4)), requires_grad=True)
        (g,) = ad.grad(ad.sum(model.logits(x)[:, c, 0, i, j]), x, allow_unused=True)
        seen = np.zeros((3, 4, 4), bool) if g is None else (g.data != 0).any(axis=0)
        assert not seen[:, order > order[i, j]].any()
        assert not seen[c:, i, j].any()
        assert seen[:c, i, j].all()
        if (i, j) != (0, 0):
            assert seen[:, order < order[i, j]].any()  # and it does see the past


@pytest.mark.parametrize("name", PIXEL_MODELS)
@pytest.mark.parametrize("space", ["grey_binary", "grey_3_levels", "rgb_3_levels"])
def test_pixelcnn_samples_match_its_probabilities(name, space):
    """Chi-square over every configuration at a 1e-6 false-failure rate, fixed seed."""
    model, every = build_pixelcnn(space, name)
    with ad.no_grad():
        p = np.exp(model.log_prob(every).data.astype(float))
    n = 20_000
    samples = model.sample(n, np.random.default_rng(5))
    assert_samples_match(samples, p, levels=len(PIXEL_SPACES[space][1]))


# ---------------------------------------------------------------- the Transformer
def build_transformer(vocab=3, length=3, seed=1):
    info = data.DataInfo((length,), "categorical", vocab)
    model = models.create("transformer", info, d_model=8, n_head=2, n_layer=2, dtype=np.float64)
    model = randomized(model, seed)
    return model


def test_transformer_probabilities_sum_to_one():
    model = build_transformer()
    every = np.array(list(itertools.product(range(3), repeat=3)))
    with ad.no_grad():
        assert np.exp(model.log_prob(every).data).sum() == pytest.approx(1.0, abs=1e-12)


def test_transformer_logits_do_not_look_ahead():
    model = build_transformer(vocab=5, length=8)
    x = np.random.default_rng(0).integers(0, 5, (4, 8))
    changed = x.copy()
    changed[:, 5:] = (changed[:, 5:] + 1) % 5
    with ad.no_grad():
        before, after = (
            model.logits(model._shifted(x)).data,
            model.logits(model._shifted(changed)).data,
        )
    np.testing.assert_array_equal(before[:, :6], after[:, :6])  # position 5 predicts x_6 from x_<=5
    assert not np.allclose(before[:, 6:], after[:, 6:])


def test_kv_cache_sampling_gives_exactly_the_same_sequences():
    model = build_transformer(vocab=5, length=12)
    cached = model.sample(64, np.random.default_rng(7), given=[3, 1], top_p=0.9)
    recomputed = model.sample(
        64, np.random.default_rng(7), given=[3, 1], top_p=0.9, use_cache=False
    )
    np.testing.assert_array_equal(cached, recomputed)
    assert np.all(cached[:, :2] == [3, 1])


def test_transformer_samples_match_its_probabilities():
    model = build_transformer()
    every = np.array(list(itertools.product(range(3), repeat=3)))
    with ad.no_grad():
        p = np.exp(model.log_prob(every).data)
    n = 20_000
    index = model.sample(n, np.random.default_rng(3)) @ np.array([9, 3, 1])
    assert_fits(np.bincount(index, minlength=27), n * p)


def test_sampling_filters():
    model = build_transformer(vocab=5, length=6)
    greedy = model.sample(3, np.random.default_rng(0), top_k=1)
    assert np.all(greedy == greedy[0])  # top-1 is deterministic
    np.testing.assert_array_equal(model.sample(3, np.random.default_rng(9), top_p=1e-9), greedy)
    cold = model.sample(200, np.random.default_rng(1), temperature=1e-6)
    assert np.all(cold == greedy[0])
    with pytest.raises(ValueError, match="temperature must be positive"):
        model.sample(1, np.random.default_rng(0), temperature=0)


# ---------------------------------------------------------------- completion
def completion_counts(model, observed_half, n=20_000):
    """Frequencies of the completed last four values, and their exact conditional."""
    mask = np.zeros((2, 4), bool)
    mask[0] = True  # the first row (the first four values in raster order) is observed
    given = np.zeros((2, 4))
    given[0] = observed_half
    completed = model.sample(n, np.random.default_rng(11), given=given, mask=mask)
    assert np.all(completed[:, 0] == observed_half)
    index = completed[:, 1].astype(int) @ np.array([8, 4, 2, 1])
    with ad.no_grad():
        p = np.exp(model.log_prob(SPACE).data.astype(float))
    rows = np.all(SPACE[:, 0] == observed_half, axis=1)
    conditional = p[rows] / p[rows].sum()  # SPACE rows are in the same binary order
    return np.bincount(index, minlength=16), n * conditional


@pytest.mark.parametrize("name", ["fvsbn", "nade", "made"])
def test_completion_samples_the_conditional_distribution(name):
    """Chi-square at a 1e-6 false-failure rate, fixed seed."""
    assert_fits(*completion_counts(build(name), np.array([1, 0, 1, 1])))


@pytest.mark.parametrize("name", PIXEL_MODELS)
def test_pixelcnn_completes_the_bottom_half(name):
    info = data.DataInfo((1, 2, 4), "binary")
    model = models.create(name, info, filters=4, layers=2, kernel_size=3)
    model = randomized(model, 1)
    mask = np.zeros((1, 2, 4), bool)
    mask[:, 0] = True
    given = np.zeros((1, 2, 4))
    given[0, 0] = [0, 1, 1, 0]
    completed = model.sample(20_000, np.random.default_rng(2), given=given, mask=mask)
    assert np.all(completed[:, 0, 0] == [0, 1, 1, 0])
    index = completed[:, 0, 1].astype(int) @ np.array([8, 4, 2, 1])
    every = SPACE[:, None]  # (256, 1, 2, 4)
    with ad.no_grad():
        p = np.exp(model.log_prob(every).data.astype(float))
    rows = np.all(SPACE[:, 0] == [0, 1, 1, 0], axis=1)
    assert_fits(np.bincount(index, minlength=16), 20_000 * p[rows] / p[rows].sum())


def test_completion_needs_a_mask():
    with pytest.raises(ValueError, match="needs a mask"):
        build("fvsbn").sample(2, np.random.default_rng(0), given=np.zeros((2, 4)))


# ---------------------------------------------------------------- class-conditional PixelCNNs
def build_conditional(name, num_classes=3):
    model, every = build_pixelcnn("grey_binary", name, num_classes=num_classes)
    return randomized(model, 4), every


@pytest.mark.parametrize("name", PIXEL_MODELS)
def test_conditional_pixelcnn_normalises_for_every_class_and_classifies_by_bayes_rule(name):
    model, every = build_conditional(name)
    with ad.no_grad():
        per_class = np.stack([model.log_prob(every, np.full(64, c)).data for c in range(3)], 1)
    np.testing.assert_allclose(np.exp(per_class.astype(float)).sum(0), 1.0, atol=1e-5)
    assert not np.allclose(per_class[:, 0], per_class[:, 1])  # the class matters
    np.testing.assert_array_equal(model.classify(every), np.argmax(per_class, axis=1))
    with pytest.raises(ValueError, match="give the labels y"):
        model.log_prob(every)
    unconditional, _ = build_pixelcnn("grey_binary", name)
    with pytest.raises(ValueError, match="not class-conditional .* takes no labels"):
        unconditional.log_prob(every, np.zeros(64, int))


@pytest.mark.parametrize("name", PIXEL_MODELS)
def test_conditional_samples_follow_their_class(name):
    model, every = build_conditional(name)
    with ad.no_grad():
        p = np.exp(model.log_prob(every, np.full(64, 2)).data.astype(float))
    n = 20_000
    samples = model.sample(n, np.random.default_rng(6), y=2)
    assert_samples_match(samples, p)


def test_the_trainer_passes_labels_and_reports_accuracy():
    rng = np.random.default_rng(0)
    x = np.zeros((200, 1, 2, 3), dtype=np.int64)
    y = rng.integers(0, 2, 200)
    x[y == 1] = 1  # class 1 is all ones, class 0 all zeros: trivially separable
    dataset = data.Dataset(
        "toy", x[:150], x[150:], data.DataInfo((1, 2, 3), "binary"), y[:150], y[150:]
    )
    model = models.create(
        "pixelcnn", dataset.info, filters=4, layers=1, kernel_size=3, num_classes=2
    )
    metrics = train.fit(model, dataset, progress=False, steps=150, batch_size=32, lr=0.05,
                        eval_every=10**9)  # fmt: skip
    assert metrics["test_accuracy"] == 1.0
    unlabeled = data.Dataset("toy", x[:150], x[150:], dataset.info)
    with pytest.raises(ValueError, match="needs labels, and toy has none"):
        train.fit(model, unlabeled, progress=False, steps=1)


# ---------------------------------------------------------------- WaveNet
def build_wavenet(levels=3, length=3, layers=2):
    info = data.DataInfo((length,), "categorical", levels)
    model = models.create("wavenet", info, channels=4, layers=layers, dtype=np.float64)
    model = randomized(model, 2)
    return model


def test_wavenet_probabilities_sum_to_one_and_samples_match():
    model = build_wavenet()
    every = np.array(list(itertools.product(range(3), repeat=3)))
    with ad.no_grad():
        p = np.exp(model.log_prob(every).data)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    n = 20_000
    index = model.sample(n, np.random.default_rng(8)) @ np.array([9, 3, 1])
    assert_fits(np.bincount(index, minlength=27), n * p)


def test_wavenet_receptive_field_is_exact():
    """The logits at t from the last receptive field of inputs equal those from the whole
    prefix (what the sampler relies on), and one step more would change them."""
    model = build_wavenet(levels=4, length=40, layers=3)  # receptive field 2 + 1 + 2 + 4 = 9
    assert model.receptive_field == 9
    previous = np.random.default_rng(0).integers(0, 5, (2, 40))
    with ad.no_grad():
        full = model.logits(previous).data
        for t in range(40):
            window = previous[:, max(0, t + 1 - 9) : t + 1]
            np.testing.assert_allclose(
                model.logits(window).data[:, :, -1], full[:, :, t], atol=1e-12
            )
        changed = previous.copy()
        changed[:, 30 - 9] = (changed[:, 30 - 9] + 1) % 5  # just outside position 30's field
        np.testing.assert_array_equal(model.logits(changed).data[:, :, 30], full[:, :, 30])
        changed[:, 30 - 8] = (changed[:, 30 - 8] + 1) % 5  # just inside: an effect
        assert not np.allclose(model.logits(changed).data[:, :, 30], full[:, :, 30])


def test_mu_law_round_trip():
    x = np.linspace(-1, 1, 1001)
    q = waves.mu_law_encode(x, 64)
    assert q.min() == 0 and q.max() == 63 and np.all(np.diff(q) >= 0)
    back = waves.mu_law_decode(q, 64)
    assert np.all(np.abs(back - x) <= np.abs(x) * 0.1 + 0.01)  # relative steps: finer near 0


# ---------------------------------------------------------------- Gated PixelCNN
def dependence_on_inputs(model, shape, i, j):
    """Which input pixels the logits at (i, j) depend on (union over a batch of inputs)."""
    x = ad.Tensor(np.random.default_rng(0).random((8,) + shape), requires_grad=True)
    (g,) = ad.grad(ad.sum(model.logits(x)[:, 0, 0, i, j]), x, allow_unused=True)
    return np.zeros(shape[1:], bool) if g is None else (g.data != 0).any(axis=(0, 1))


def test_gated_pixelcnn_has_no_blind_spot_and_still_hides_the_future():
    """PixelCNN's stacked 3x3 masks miss the pixel one row up and two columns right (its
    receptive field grows a column to the left per layer, but not to the right); the gated
    stacks see it, yet never see (i, j) itself or anything after it."""
    info = data.DataInfo((1, 7, 7), "binary")
    plain = randomized(models.create("pixelcnn", info, filters=4, layers=3, kernel_size=3), 0)
    gated = randomized(models.create("gated_pixelcnn", info, filters=4, layers=3, kernel_size=3), 0)
    plain.to(np.float64)
    gated.to(np.float64)
    i, j = 4, 3
    order = np.arange(49).reshape(7, 7)
    blind_pixel = (i - 1, j + 2)
    seen_plain = dependence_on_inputs(plain, (1, 7, 7), i, j)
    seen_gated = dependence_on_inputs(gated, (1, 7, 7), i, j)
    assert not seen_plain[blind_pixel] and seen_gated[blind_pixel]
    for seen in (seen_plain, seen_gated):
        assert not seen[order >= order[i, j]].any()
    assert seen_gated[i, j - 1] and seen_gated[i - 1, j + 1]


@pytest.mark.parametrize("name", PIXEL_MODELS)
def test_pixelcnn_with_a_logistic_mixture_output_normalises_and_samples_right(name):
    """PixelCNN++'s likelihood as the output: on 1x1x2 images with 4 levels (16 images),
    probabilities sum to one and samples pass the chi-square test."""
    info = data.DataInfo((1, 1, 2), "categorical", 4)
    model = models.create(name, info, filters=4, layers=1, kernel_size=3,
                          output="logistic_mixture", mixtures=2)  # fmt: skip
    model = randomized(model, 1)
    every = np.array(list(itertools.product(range(4), repeat=2))).reshape(-1, 1, 1, 2)
    with ad.no_grad():
        p = np.exp(model.log_prob(every).data.astype(float))
    assert p.sum() == pytest.approx(1.0, abs=1e-5)
    n = 20_000
    samples = model.sample(n, np.random.default_rng(4))
    assert_samples_match(samples, p, levels=4)
    with pytest.raises(ValueError, match="logistic mixture models categorical"):
        models.create(name, data.DataInfo((1, 2, 2), "binary"), output="logistic_mixture")


def test_nade_conditionals_gradcheck_and_gradgradcheck():
    """The fused kernel's gradient (first order) and the composite path's (higher order)."""
    model = build("nade").to(np.float64)
    rng = np.random.default_rng(3)
    x = ad.Tensor(rng.random((3, 8)), requires_grad=True)
    params = [model.W, model.c, model.V, model.b]

    def logits(x, *p):
        model.W, model.c, model.V, model.b = p
        return model.conditional_logits(x)

    assert ad.gradcheck(logits, [x, *params])
    assert ad.gradgradcheck(logits, [x, *params])
    G = rng.standard_normal((3, 8))
    fused = ad.grad(logits(x, *params), [x, *params], grad_outputs=G)
    composite = ad.grad(logits(x, *params), [x, *params], grad_outputs=G, create_graph=True)
    for a, b in zip(fused, composite):  # the two paths give the same numbers
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-12)
