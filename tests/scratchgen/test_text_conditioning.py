"""Text conditioning: the caption encoder ignores padding, the caption reaches the UNet through
cross-attention, training drops captions to the empty one at p_uncond, sampling at w = 0 is
the captioned eps's chain with no null pass, the one Trainer hands a captioned model its
captions, and every misuse is refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from scratchgen import diffusion, models, nn, train
from scratchgen.data import DataInfo, Dataset, shapes
from scratchgen.data import captions as text

RNG = np.random.default_rng(0)
SCENES = [shapes.random_scene(RNG) for _ in range(40)]
IMAGES = np.stack([shapes.render(s) for s in SCENES]).astype(np.int64)
CAPTIONS = [shapes.caption(s) for s in SCENES]
INFO = DataInfo((3, 16, 16), "categorical", 256)
DATA = Dataset("tiny_shapes", IMAGES[:32], IMAGES[32:], INFO,
               extras={"train_captions": CAPTIONS[:32],
                       "test_captions": CAPTIONS[32:]})  # fmt: skip
TINY = dict(condition="caption", channels=8, multipliers=[1, 2], groups=4, timesteps=20,
            noise_schedule="cosine", text_width=16, text_layers=1, text_heads=2)  # fmt: skip


def captioned(**settings):
    model = models.create("ddpm", INFO, **{**TINY, **settings})
    rng = np.random.default_rng(5)
    for p in model.parameters():  # the zero-started projections would hide the caption
        p.data[...] += 0.05 * rng.standard_normal(p.shape).astype(p.data.dtype)
    return model


def test_the_encoder_reads_no_padding():
    """Changing what sits at padded positions, or padding further, leaves the vectors of the
    tokens present unchanged."""
    encoder = nn.TextEncoder(len(text.VOCABULARY), 16, 2, 2, 24, rng=np.random.default_rng(0),
                             dtype=np.float64)  # fmt: skip
    tokens = text.tokenize(["a red circle", "a small blue square at the centre"])
    base = encoder(tokens).data
    garbage = tokens.copy()
    garbage[tokens == text.PAD] = 7
    changed = encoder(np.where(tokens == text.PAD, text.PAD, garbage)).data
    longer = encoder(np.pad(tokens, ((0, 0), (0, 4)))).data
    present = tokens != text.PAD
    np.testing.assert_allclose(changed[present], base[present], atol=1e-12)
    np.testing.assert_allclose(longer[:, : tokens.shape[1]][present], base[present], atol=1e-12)
    # and the words do matter: another colour moves every present vector
    other = encoder(text.tokenize(["a blue circle", "a small blue square at the centre"])).data
    assert np.abs(other[0, :4] - base[0, :4]).min() > 1e-6


def test_the_caption_reaches_the_network_and_the_empty_caption_is_the_null():
    model = captioned()
    x = model.signal(IMAGES[:2])
    t = np.array([5, 5])
    eps = [model.eps(x, t, text.tokenize([c, c])) for c in ("a red circle", "a blue square")]
    assert np.abs(eps[0] - eps[1]).max() > 1e-4
    np.testing.assert_array_equal(model.null_condition(2), text.tokenize(["", ""]))
    assert model.net.attention_resolutions == (8,)  # every side but the image's own


def spy_on_tokens(model, monkeypatch):
    seen, network = [], model.network

    def recorded(x, t, y=None):
        seen.append(np.array(y))
        return network(x, t, y)

    monkeypatch.setattr(model, "network", recorded)
    return seen


def test_no_guidance_is_the_captioned_chain_and_w_adds_the_empty_caption(monkeypatch):
    model = captioned()
    seen = spy_on_tokens(model, monkeypatch)
    caption = "a large green square at the top left"
    samples = model.sample(3, np.random.default_rng(3), caption=caption)
    wanted = text.tokenize([caption] * 3)
    assert len(seen) == 20 and all((tokens == wanted).all() for tokens in seen)
    by_hand = diffusion.ddpm_ancestral(model.schedule, lambda x, t: model.eps(x, t, wanted),
                                       (3, *INFO.shape), np.random.default_rng(3), "beta",
                                       (-1.0, 1.0))  # fmt: skip
    np.testing.assert_array_equal(samples, model.from_signal(by_hand))
    seen.clear()
    model.sample(3, np.random.default_rng(3), caption=caption, guidance=2.0)
    assert sum((tokens == wanted).all() for tokens in seen) == 20
    assert sum((tokens == model.null_condition(3)).all() for tokens in seen) == 20


def test_training_drops_captions_to_the_empty_one_at_p_uncond(monkeypatch):
    """Over 60 losses of 32 captions the empty ones are Binomial(1920, 0.3) (p_omit = 0: the
    others are the captions given): a two-sided test at a false-failure rate of 1e-6."""
    model = captioned(p_uncond=0.3, p_omit=0.0)
    seen = spy_on_tokens(model, monkeypatch)
    for _ in range(60):
        model.loss(IMAGES[:32], np.asarray(CAPTIONS[:32]))
    seen = np.concatenate(seen)
    null = (seen[:, 1:] == text.PAD).all(axis=1)
    assert stats.binomtest(int(null.sum()), len(seen), 0.3).pvalue > 1e-6
    given = np.tile(text.tokenize(CAPTIONS[:32]), (60, 1))
    np.testing.assert_array_equal(seen[~null], given[~null])


def test_the_trainer_hands_a_captioned_model_its_captions(monkeypatch):
    model = captioned(p_uncond=0.0, p_omit=0.0)
    seen = spy_on_tokens(model, monkeypatch)
    train.fit(model, DATA, steps=2, batch_size=8, eval_every=10**9, progress=False)
    assert len(seen) == 3  # two steps, then the test loss at the end
    training = {tuple(row) for row in text.tokenize(CAPTIONS[:32])}
    assert all(tuple(row) in training for row in np.concatenate(seen[:2]))
    np.testing.assert_array_equal(seen[2], text.tokenize(CAPTIONS[32:]))
    bare = Dataset("no_captions", IMAGES[:32], IMAGES[32:], INFO)
    with pytest.raises(ValueError, match="needs captions, and no_captions has none"):
        train.fit(captioned(), bare, steps=1, batch_size=8, progress=False)


@pytest.mark.parametrize("build, call, says", [
    (dict(), dict(y=[1, 2]), "this model reads captions"),
    (dict(), dict(caption="a red"), "expected a kind"),
    (dict(), dict(caption=["a red circle"] * 3), "3 captions for 2 examples"),
    (dict(), dict(guidance=1.0), "guidance steers toward captions"),
    (dict(condition="none"), dict(caption="a red circle"), "trained without captions"),
])  # fmt: skip
def test_misused_conditions_are_refused_in_one_line(build, call, says):
    model = models.create("ddpm", INFO, **{**TINY, **build})
    with pytest.raises(ValueError, match=says) as error:
        model.sample(2, np.random.default_rng(0), **call)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("settings, says", [
    (dict(num_classes=3), "captions or on classes"),
])  # fmt: skip
def test_a_captioned_model_that_cannot_attend_is_refused_when_built(settings, says):
    with pytest.raises(ValueError, match=says):
        models.create("ddpm", INFO, **{**TINY, **settings})
    with pytest.raises(ValueError, match="on images"):
        models.create("ddpm", DataInfo((2,), "continuous"), condition="caption")
