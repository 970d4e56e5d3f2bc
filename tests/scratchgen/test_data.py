"""Datasets: exact densities, generators, loaders and their errors. No test reads
../shared/data: the IDX tests write their own small files."""

import gzip
import hashlib
import re

import numpy as np
import pytest

from scratchgen import data
from scratchgen.data import files, grammar, shapes, text, toy2d

EXACT = ["eight_gaussians", "checkerboard", "rings", "two_moons"]


# ---------------------------------------------------------------- toy densities
@pytest.mark.parametrize("name", EXACT)
def test_exact_toy_densities_integrate_to_one(name):
    _, log_density = toy2d.TOYS[name]
    grid = np.linspace(-3.5, 3.5, 351)
    xx, yy = np.meshgrid(grid, grid)
    density = np.exp(log_density(np.stack([xx.ravel(), yy.ravel()], 1)))
    step = grid[1] - grid[0]
    assert density.sum() * step**2 == pytest.approx(1.0, abs=5e-3)  # grid error only


@pytest.mark.parametrize("name", ["grid25", "ring8"])
def test_the_mode_collapse_mixtures_are_their_own_perfect_samplers(name):
    """The data scored by the VEEGAN / PacGAN protocol: every mode captured, and a fraction
    P(chi^2_2 < 9) = 1 - exp(-4.5) of samples within 3 standard deviations of their mode."""
    from scratchgen.metrics import mode_coverage

    dataset = data.load(name)
    centres, std = dataset.extras["modes"]
    scores = mode_coverage(dataset.test, centres, std)
    expected, n = 1 - np.exp(-4.5), len(dataset.test)
    assert scores["modes"] == len(centres)
    assert abs(scores["high_quality"] - expected) < 4 * np.sqrt(expected * (1 - expected) / n)
    log_density = toy2d.TOYS[name][1]
    assert np.all(np.isfinite(log_density(dataset.test)))


@pytest.mark.parametrize("name", EXACT)
def test_samples_follow_the_exact_density(name):
    """Counts in 0.5 x 0.5 cells against the density's mass there (midpoint rule on a 10x10
    sub-grid); each cell within 6 binomial standard errors plus the quadrature error."""
    sampler, log_density = toy2d.TOYS[name]
    n = 200_000
    x = sampler(n, np.random.default_rng(0))
    edges = np.arange(-3.0, 3.01, 0.5)
    counts, _, _ = np.histogram2d(x[:, 0], x[:, 1], [edges, edges])
    fine = edges[0] + (np.arange(120) + 0.5) * 0.05
    fx, fy = np.meshgrid(fine, fine, indexing="ij")
    mass = np.exp(log_density(np.stack([fx.ravel(), fy.ravel()], 1))).reshape(120, 120) * 0.0025
    mass = mass.reshape(12, 10, 12, 10).sum(axis=(1, 3))
    frequency = counts / n
    se = np.sqrt(mass * (1 - mass) / n)
    assert np.all(np.abs(frequency - mass) <= 6 * se + 0.002)


def test_a_weighted_gaussian_mixtures_density_against_scipy_and_its_score_against_differences():
    from scipy import stats

    rng = np.random.default_rng(0)
    centres, std, w = rng.normal(size=(3, 4)), 0.7, np.array([0.2, 0.5, 0.3])
    x = rng.normal(size=(6, 4))
    expected = np.log(sum(wk * stats.multivariate_normal(c, std**2).pdf(x)
                          for wk, c in zip(w, centres)))  # fmt: skip
    log_p = toy2d.gaussian_mixture_log_density(x, centres, std, w)
    np.testing.assert_allclose(log_p, expected, rtol=1e-10)
    h = 1e-6
    differences = np.stack([(toy2d.gaussian_mixture_log_density(x + h * e, centres, std, w)
                             - toy2d.gaussian_mixture_log_density(x - h * e, centres, std, w))
                            / (2 * h) for e in np.eye(4)], axis=1)  # fmt: skip
    score = toy2d.gaussian_mixture_score(x, centres, std, w)
    np.testing.assert_allclose(score, differences, rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="summing to 1"):
        toy2d.gaussian_mixture_score(x, centres, std, [0.5, 0.6, -0.1])
    with pytest.raises(ValueError, match="like the centres"):
        toy2d.gaussian_mixture_score(x[:, :2], centres, std)


def test_rings_bessel_formula_matches_averaging_over_the_angle():
    x = np.array([[0.3, 0.1], [1.0, 0.2], [-1.4, -0.6], [0.0, 2.05]])
    angles = np.linspace(0, 2 * np.pi, 20_001)[:-1]
    s2 = toy2d._RING_SIGMA**2
    total = 0.0
    for r, w in zip(toy2d._RADII, toy2d._RING_WEIGHTS):
        centres = r * np.stack([np.cos(angles), np.sin(angles)], 1)
        sq = np.sum((x[:, None] - centres[None]) ** 2, -1)
        total = total + w * np.mean(np.exp(-sq / (2 * s2)), axis=1) / (2 * np.pi * s2)
    np.testing.assert_allclose(toy2d.rings_log_density(x), np.log(total), rtol=1e-8)


def test_entropy_estimate_of_a_gaussian_mixture_is_close_to_separated_components():
    """Eight well-separated N(c, 0.2^2 I): H = log 8 + log(2 pi e 0.04) up to overlap ~1e-12."""
    h, se = toy2d.entropy(toy2d.eight_gaussians_log_density, toy2d.eight_gaussians)
    exact = np.log(8) + np.log(2 * np.pi * np.e * 0.04)
    assert abs(h - exact) < 6 * se


def test_toy_datasets_carry_their_log_density():
    d = data.load("rings")
    assert d.info == data.DataInfo((2,), "continuous") and d.log_density is not None
    assert data.load("swiss_roll").log_density is None
    np.testing.assert_array_equal(d.train, data.load("rings").train)  # fixed seeds


# ---------------------------------------------------------------- images
def test_digits_split_levels_and_binary_variant():
    d, b = data.load("digits"), data.load("digits_binary")
    assert d.train.shape[1:] == (1, 8, 8) and d.info.levels == 17
    assert d.train.min() == 0 and d.train.max() == 16
    assert len(d.train) + len(d.test) == 1797 and len(d.test) == 359
    np.testing.assert_array_equal(b.train, (d.train > 8).astype(np.int64))
    assert set(np.unique(d.train_labels)) == set(range(10))


def test_shapes_render_what_the_description_says():
    image = shapes.render([("square", "red", "large", 0.5, 0.5)], size=16)
    np.testing.assert_array_equal(image[:, 8, 8], shapes.COLOURS["red"])
    np.testing.assert_array_equal(image[:, 0, 0], [0, 0, 0])
    circle = shapes.render([("circle", "blue", "small", 0.25, 0.25)], size=16)
    assert circle[2, 4, 4] > 200 and circle[2, 12, 12] == 0
    triangle = shapes.render([("triangle", "white", "large", 0.5, 0.5)], size=32)
    assert triangle[0, 24, 16] > 200 and triangle[0, 12, 10] == 0  # wide base, narrow apex
    assert shapes.caption([("circle", "blue", "small", 0.2, 0.8)]) == (
        "a small blue circle at the bottom left"
    )


def test_shapes_dataset_every_named_shape_is_visible():
    d = shapes.shapes()
    assert d.train.shape == (10_000, 3, 16, 16) and d.train.max() <= 255
    for image, scene in zip(d.test[:300], d.extras["test_scenes"][:300]):
        np.testing.assert_array_equal(image, shapes.render(scene))
        assert min(shapes.visible_pixels(scene)) >= shapes.MIN_VISIBLE
        for _, colour, *_ in scene:  # the colour really appears in the picture
            assert np.any(np.all(image == np.array(shapes.COLOURS[colour])[:, None, None], axis=0))


# ---------------------------------------------------------------- text
def test_grammar_entropy_rate_equals_words_per_character():
    """Slots are independent, so the rate is the entropy of a sentence over its expected
    length, an independent route to the same number."""
    h_sentence = sum(-sum(p * np.log(p) for p in slot.values()) for slot in grammar.SLOTS)
    length = sum(sum(p * len(w) for w, p in slot.items()) for slot in grammar.SLOTS)
    assert grammar.entropy_rate() == pytest.approx(h_sentence / length, rel=1e-10)


def test_grammar_text_is_grammatical():
    sample = grammar.sample_text(5_000, np.random.default_rng(0))
    noun = "(cat|dog|bird|fish|mouse)"
    sentence = (
        rf"(the|a) (big|small|red|old) {noun} (sees|likes|chases|eats|finds) (the|a) {noun}[.!] "
    )
    complete = sample[: max(sample.rfind(". "), sample.rfind("! ")) + 2]  # whole sentences
    assert len(complete) > 4_000 and re.fullmatch(f"({sentence})*", complete)


def test_text_round_trip_and_file_split(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("hello world, " * 100, encoding="utf-8")
    d = data.load(str(path))
    assert d.info.kind == "categorical" and d.info.levels == len(set("hello world, "))
    assert text.decode(d.train[0], d.extras["vocab"]) == ("hello world, " * 10)[:64]
    assert len(d.extras["train_tokens"]) == int(0.9 * 1300)
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="cannot be read as UTF-8"):
        data.load(str(tmp_path / "bad.txt"))


# ---------------------------------------------------------------- files
def write_idx(path, array, compress):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return hashlib.sha256(payload).hexdigest()


@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_round_trip(tmp_path, compress):
    array = np.arange(24).reshape(2, 3, 4)
    write_idx(tmp_path / "x", array, compress)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "x"), array)


def test_malformed_idx_files_are_refused(tmp_path):
    (tmp_path / "magic").write_bytes(b"\x01\x00\x08\x01" + (3).to_bytes(4, "big") + b"abc")
    with pytest.raises(data.DataError, match="bad magic"):
        data.read_idx(tmp_path / "magic")
    (tmp_path / "short").write_bytes(b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + b"abc")
    with pytest.raises(data.DataError, match="holds 3 bytes, its header says 5"):
        data.read_idx(tmp_path / "short")


def test_mnist_loader_checks_sums_and_explains_missing_files(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHGEN_DATA", str(tmp_path))
    folder = tmp_path / "mnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    sums = {}
    shapes_by_stem = {
        "train-images-idx3-ubyte": (5, 28, 28), "train-labels-idx1-ubyte": (5,),
        "t10k-images-idx3-ubyte": (3, 28, 28), "t10k-labels-idx1-ubyte": (3,),
    }  # fmt: skip
    for stem, shape in shapes_by_stem.items():
        sums[stem] = write_idx(folder / f"{stem}.gz", rng.integers(0, 256, shape), compress=True)
    with pytest.raises(data.DataError, match="does not match the published"):
        data.load("mnist")  # real checksums, fake files
    monkeypatch.setitem(files.CHECKSUMS, "mnist", sums)
    d = data.load("mnist")
    assert d.train.shape == (5, 1, 28, 28) and d.test_labels.shape == (3,)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()

    def offline(url, target):
        raise OSError("no network")

    monkeypatch.setattr(files, "_download", offline)
    with pytest.raises(data.DataError, match="could not be downloaded.*SCRATCHGEN_DATA"):
        data.load("mnist")


def test_arrays_from_files_and_from_memory(tmp_path):
    x = np.random.default_rng(0).integers(0, 2, (50, 4))
    np.save(tmp_path / "bits.npy", x)
    d = data.load(str(tmp_path / "bits.npy"))
    assert d.info.kind == "binary" and len(d.train) + len(d.test) == 50
    np.savez(tmp_path / "split.npz", train=np.ones((8, 3)) * 0.5, test=np.zeros((2, 3)))
    d = data.load(str(tmp_path / "split.npz"))
    assert d.info.kind == "continuous" and d.test.shape == (2, 3)
    assert data.from_array((np.arange(20) % 5)[:, None]).info == data.DataInfo(
        (1,), "categorical", 5
    )
    with pytest.raises(ValueError, match=r"shape \(n, ...\).*got shape \(20,\).*\(n, 1\)"):
        data.from_array(np.arange(20) % 5)
    with pytest.raises(ValueError, match="'binary' needs values 0 and 1"):
        data.from_array(np.arange(10)[:, None], kind="binary")
    with pytest.raises(data.DataError, match="unknown dataset 'nope': choose from"):
        data.load("nope")
    with pytest.raises(data.DataError, match="no such file"):
        data.load(str(tmp_path / "missing.npy"))


def test_batches_cover_each_example_once_per_pass_and_follow_the_seed():
    d = data.from_array(np.arange(103, dtype=float)[:, None], kind="continuous", test_fraction=0.03)
    seen = np.concatenate(list(d.batches(10, np.random.default_rng(1))))
    assert len(seen) == 100 and len(np.unique(seen)) == 100
    again = np.concatenate(list(d.batches(10, np.random.default_rng(1))))
    np.testing.assert_array_equal(seen, again)
    assert sum(len(b) for b in d.batches(10, np.random.default_rng(1), drop_last=False)) == 100


def test_the_grid_of_25_gaussians_is_normalised_and_lists_its_modes():
    grid = np.arange(-4.6, 4.6, 0.01)
    xx, yy = np.meshgrid(grid, grid)
    density = np.exp(toy2d.grid25_log_density(np.stack([xx.ravel(), yy.ravel()], 1)))
    assert density.sum() * 0.01**2 == pytest.approx(1.0, abs=1e-3)
    dataset = data.load("grid25")
    centres, sigma = dataset.extras["modes"]
    assert centres.shape == (25, 2) and sigma == 0.05
    nearest = np.min(np.linalg.norm(dataset.train[:, None] - centres[None], axis=-1), axis=1)
    assert np.max(nearest) < 6 * sigma


def test_scene_attributes_list_what_the_image_shows_in_an_order_it_shows():
    scene = [("square", "red", "large", 0.8, 0.2), ("circle", "cyan", "small", 0.2, 0.8)]
    table = shapes.scene_attributes([scene, scene[::-1], scene[1:]])
    np.testing.assert_array_equal(table[0], table[1])  # the drawing order does not matter
    assert shapes.describe(table) == [
        [("square", "red", "large", "top right"), ("circle", "cyan", "small", "bottom left")],
    ] * 2 + [[("circle", "cyan", "small", "bottom left")]]
    assert table[2, 0] == 0 and np.all(table[2, 5:] == -1)
    assert table.shape[1] == len(shapes.ATTRIBUTES) == len(shapes.ATTRIBUTE_CLASSES)
    assert np.all(table.max(axis=0) < np.array(shapes.ATTRIBUTE_CLASSES))
    scenes = [shapes.random_scene(np.random.default_rng(seed)) for seed in range(20)]
    words = shapes.describe(shapes.scene_attributes(scenes))
    for scene, described in zip(scenes, words):
        assert sorted(shapes.caption(scene).split(" and ")) == sorted(
            f"a {size} {colour} {kind} at the {place}" for kind, colour, size, place in described
        )


def test_grammar_log_prob_is_a_distribution_over_texts_of_each_length():
    """exp(log_prob) over all 21^3 strings of 3 characters sums to 1 (the stationary start);
    a sentence out of the grammar is -inf; on long sampled text -log_prob per character tends
    to the entropy rate (the window's start state costs O(1 / length))."""
    import itertools

    strings = ["".join(c) for c in itertools.product(grammar.VOCAB, repeat=3)]
    assert abs(np.exp(grammar.log_prob(strings)).sum() - 1) < 1e-12
    assert grammar.log_prob("the big cat sees a dog. ")[0] > -np.inf
    assert grammar.log_prob(["the cat meows. ", "zz"]).tolist() == [-np.inf, -np.inf]
    text = grammar.sample_text(5000, np.random.default_rng(9))
    per_char = -grammar.log_prob(text)[0] / len(text)
    assert abs(per_char - grammar.entropy_rate()) < 0.03
