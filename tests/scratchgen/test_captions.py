"""The shapes world's caption language and caption accuracy: a scene's caption parses back to
exactly what its image shows (the attribute table), writing and parsing invert each other on
every list of phrases, captions outside the grammar are refused in one line, and caption
accuracy is 1 on a scene's own attributes and falls by exactly what a changed attribute
costs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from scratchgen import metrics
from scratchgen.data import captions as text
from scratchgen.data import shapes

RNG = np.random.default_rng(0)
SCENES = [shapes.random_scene(RNG) for _ in range(300)]


def test_a_scenes_caption_parses_back_to_the_attributes_its_image_shows():
    table = shapes.scene_attributes(SCENES)
    for scene, seen in zip(SCENES, shapes.describe(table)):
        caption = shapes.caption(scene)
        assert sorted(text.parse(caption)) == sorted(text.Phrase(*obj) for obj in seen)
        assert text.write(text.parse(caption)) == caption


def _all_phrases():
    options = [(*shapes.KINDS, None), (*shapes.COLOURS, None), (*shapes.SIZES, None),
               (*shapes.PLACES, None)]  # fmt: skip
    return [text.Phrase(*values) for values in itertools.product(*options)]


def test_parse_inverts_write_on_every_phrase_and_on_pairs_of_them():
    phrases = _all_phrases()  # 4 * 8 * 3 * 10 = 960
    for phrase in phrases:
        assert text.parse(text.write([phrase])) == [phrase]
    rng = np.random.default_rng(1)
    for i, j in rng.integers(0, len(phrases), (500, 2)):
        pair = [phrases[i], phrases[j]]
        assert text.parse(text.write(pair)) == pair
    assert text.parse("") == [] and text.write([]) == ""


@pytest.mark.parametrize("caption, says", [
    ("a red", "expected a kind"), ("two circles", "expected 'a'"),
    ("a circle at the moon", "'moon' is no place"), ("a circle and", "found the end"),
    ("a circle next to a square", "'at the'"),
    ("a circle and a square and a circle", "at most 2 objects"),
])  # fmt: skip
def test_a_caption_outside_the_grammar_is_refused_in_one_line(caption, says):
    with pytest.raises(text.CaptionError, match=says) as error:
        text.tokenize([caption])
    assert "\n" not in str(error.value)


def test_tokens_begin_every_caption_and_pad_the_rest():
    tokens = text.tokenize(["", "a red circle", shapes.caption(SCENES[0])])
    assert tokens.shape == (3, text.LENGTH) and (tokens[:, 0] == text.BEGIN).all()
    assert (tokens[0, 1:] == text.PAD).all()
    assert [text.VOCABULARY[t] for t in tokens[1, 1:4]] == ["a", "red", "circle"]
    assert (tokens[1, 4:] == text.PAD).all()
    assert len(text.VOCABULARY) == len(set(text.VOCABULARY))


def test_partial_captions_leave_attributes_open_at_the_rate_asked():
    """Over 300 scenes' captions at p_omit = 0.4 the attributes left open are Binomial(N,
    0.4): a two-sided test at false-failure rate 1e-6; what is said is what the scene shows."""
    from scipy import stats

    rng, open_, total = np.random.default_rng(2), 0, 0
    for scene in SCENES:
        full = text.parse(shapes.caption(scene))
        said = text.parse(text.partial(shapes.caption(scene), rng, 0.4))
        for whole, part in zip(full, said):
            for a, b in zip(whole, part):
                total += 1
                open_ += b is None
                assert b is None or a == b
    assert stats.binomtest(open_, total, 0.4).pvalue > 1e-6
    assert text.partial("a red circle", rng, 0.0) == "a red circle"


def test_caption_accuracy_is_one_on_a_scenes_own_attributes_and_counts_each_mistake():
    captions = [shapes.caption(s) for s in SCENES]
    table = shapes.scene_attributes(SCENES)
    exact = metrics.caption_accuracy(captions, table)
    assert all(value == 1.0 for value in exact.values()), exact
    wrong = table.copy()
    wrong[:100, 2] = (wrong[:100, 2] + 1) % len(shapes.COLOURS)  # the first object's colour
    phrases = sum(len(text.parse(c)) for c in captions)
    scores = metrics.caption_accuracy(captions, wrong)
    assert scores["colour"] == pytest.approx(1 - 100 / phrases)
    assert scores["all"] == pytest.approx(200 / 300) and scores["kind"] == 1.0
    # a caption naming one object matches the right one of two, whichever slot it reads in
    two = next(i for i, s in enumerate(SCENES) if len(s) == 2)
    second = text.write(text.parse(captions[two])[1:])
    one = metrics.caption_accuracy([second], table[two : two + 1])
    assert one["count"] == 0.0 and one["colour"] == 1.0 and one["place"] == 1.0
    assert metrics.caption_accuracy([""], table[:1])["all"] == 1.0
