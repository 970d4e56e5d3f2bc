"""Which metrics apply to a model, and what they say of samplers whose answer is known: one
that replays the test set, and one that copies the training set."""

import numpy as np
import pytest

from scratchgen import data, evaluation, models
from scratchgen.models.base import GenerativeModel


class Replay(GenerativeModel):
    """Samples are rows of a fixed array, in order: no likelihood, a known answer."""

    def __init__(self, info, **hparams):
        super().__init__(info, **hparams)
        self.rows = None

    def sample(self, n, rng):
        return self.rows[:n]


def replay(dataset, rows):
    model = Replay(dataset.info)
    model.rows = rows
    return model


def test_a_sampler_that_replays_the_test_set_scores_as_the_data_itself():
    grid = data.load("grid25")
    scores = evaluation.evaluate_model(replay(grid, grid.test), grid, n=1000)
    assert set(evaluation.applicable(replay(grid, grid.test), grid)) == {
        "mmd", "w2", "modes", "nn"}  # fmt: skip
    assert scores["w2"] == 0.0 and scores["eval_samples"] == 1000
    assert scores["modes_captured"] == scores["modes_total"] == 25
    assert scores["high_quality"] > 0.97  # 1 - exp(-9/2) = 0.989 expected
    assert scores["nn_distance_samples"] == scores["nn_distance_test"]
    rng = np.random.default_rng(0)
    given = evaluation.score_samples(grid.test[:500], grid, ["w2", "modes"], rng)
    assert given["w2"] == 0.0 and given["eval_samples"] == 500
    with pytest.raises(ValueError, match="test examples"):
        evaluation.score_samples(np.concatenate([grid.test] * 2), grid, ["w2"], rng)
    with pytest.raises(ValueError, match="nll not sample metrics"):
        evaluation.score_samples(grid.test[:10], grid, ["nll"], rng)


def test_a_sampler_that_copies_its_training_images_is_caught_by_nn_and_not_by_fid():
    digits = data.load("digits")
    copier = replay(digits, digits.train[: len(digits.test)])
    scores = evaluation.evaluate_model(copier, digits, ["fid", "nn"], progress=False)
    assert scores["nn_distance_samples"] == 0.0 < scores["nn_distance_test"]
    assert scores["fid_scratchgen_digits"] < 1.0  # FID calls the copies nearly perfect


def test_metrics_that_do_not_apply_say_why_in_one_line():
    digits, text = data.load("digits"), data.load("grammar")
    gmm = models.create("gaussian_mixture", data.load("rings").info)
    reasons = {
        "nll": evaluation.why_not("nll", replay(digits, digits.test), digits),
        "fid": evaluation.why_not("fid", gmm, data.load("rings")),
        "w2": evaluation.why_not("w2", replay(digits, digits.test), digits),
        "modes": evaluation.why_not("modes", gmm, data.load("rings")),
        "nn": evaluation.why_not("nn", replay(text, text.test), text),
        "bogus": evaluation.why_not("bogus", gmm, data.load("rings")),
    }
    assert "Replay has no likelihood" in reasons["nll"]
    assert "there is none for rings" in reasons["fid"] and "use fid or kid" in reasons["w2"]
    assert "not a mixture with known modes" in reasons["modes"]
    assert "sequences of tokens" in reasons["nn"] and "no metric 'bogus'" in reasons["bogus"]
    assert all("\n" not in reason for reason in reasons.values())
    assert evaluation.why_not("nll", gmm, data.load("rings")) is None
    with pytest.raises(evaluation.NotApplicable, match="^w2: "):
        evaluation.evaluate_model(replay(digits, digits.test), digits, ["nn", "w2"])


def test_draw_samples_cycles_through_the_classes_of_a_conditional_model():
    digits = data.load("digits")
    model = models.create("pixelcnn", digits.info, filters=4, layers=1, num_classes=10)
    seen = []
    model.sample = lambda n, rng, y: seen.append(y) or np.zeros((n, *digits.info.shape))
    evaluation.draw_samples(model, 12, np.random.default_rng(0))
    assert seen[0].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
