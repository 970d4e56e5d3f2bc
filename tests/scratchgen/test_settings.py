"""Every setting is checked against its declared type before anything is built: a property
over the whole registry (models added later are covered by being registered) and over every
training setting. An ill-typed or out-of-range value must end the command with exit status 2
and one line on stderr that names the setting and the value, and nothing may be written."""

import json
import math
from collections.abc import Sequence
from typing import Annotated, Literal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scratchgen import models
from scratchgen.cli import main
from scratchgen.settings import (
    OneOf,
    Positive,
    Range,
    Setting,
    SettingError,
    Size,
    check_all,
    setting,
)
from scratchgen.train import TrainConfig
from scratchgen.train.trainer import TRAIN_SETTINGS

text = st.text(max_size=8)
integers = st.integers(-(10**12), 10**12)
reals = st.floats(allow_nan=True, allow_infinity=True)


def wrong_type(s: Setting) -> st.SearchStrategy:
    """Values whose type the setting does not take (None only where it is not optional)."""
    others = {
        int: st.one_of(text, st.booleans(), reals, st.lists(st.integers(), max_size=2)),
        float: st.one_of(text, st.booleans(), st.lists(reals, max_size=2),
                         st.sampled_from([math.nan, math.inf, -math.inf])),
        bool: st.one_of(text, integers, reals, st.lists(st.booleans(), max_size=2)),
        str: st.one_of(integers, reals, st.booleans(), st.lists(text, max_size=2)),
        list: st.one_of(text, integers, reals, st.booleans(), st.just([])),
    }[s.kind]  # fmt: skip
    return others if s.optional else st.one_of(others, st.none())


def out_of_range(s: Setting) -> st.SearchStrategy:
    """Values of the right type outside what the setting allows: below or above its range
    (huge ones too), words it does not know, lists with a bad element."""
    if s.kind is list:
        return st.lists(out_of_range(s.element) | wrong_type(s.element), min_size=1, max_size=3)
    if s.words is not None:
        return text.filter(lambda word: word not in s.words)
    if s.range is None:
        return st.nothing()
    step = st.integers(1, 10**12) if s.kind is int else st.floats(1e-6, 1e12)
    options = []
    if s.range.low is not None:
        options.append(step.map(lambda d: s.range.low - d))
        if s.range.above:
            options.append(st.just(s.kind(s.range.low)))
    if s.range.high is not None:
        options.append(step.map(lambda d: s.range.high + d))
        if s.range.below:
            options.append(st.just(s.kind(s.range.high)))
    return st.one_of(options)


def ill_values(s: Setting) -> st.SearchStrategy:
    return st.one_of(wrong_type(s), out_of_range(s))


def dataset_for(name: str) -> str:
    """Data the model can fit, so that a setting that escaped its check would reach the model."""
    kinds = models.REGISTRY[name].kinds
    return "digits_binary" if "binary" in kinds else "grammar" if kinds == ("categorical",) else (
        "eight_gaussians")  # fmt: skip


def assert_refused(args, setting_name, value, tmp_path, capsys):
    out = tmp_path / "run"
    steps = [] if setting_name == "steps" else ["--steps", "1"]  # then training would be short
    code = main([*args, *steps, "--out", str(out), "--quiet",
                 "--set", f"{setting_name}={json.dumps(value)}"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"setting {setting_name} must be" in err
    assert not out.exists()  # refused before anything was made


# each example writes nothing (that is asserted), so the folder and the captured output can be
# shared across examples
SHARED_FIXTURES = [HealthCheck.function_scoped_fixture]

MODEL_SETTINGS = [(model, name) for model, entry in models.REGISTRY.items()
                  for name in entry.settings]  # fmt: skip


@pytest.mark.parametrize("model, name", MODEL_SETTINGS)
@settings(max_examples=6, suppress_health_check=SHARED_FIXTURES)
@given(data=st.data())
def test_every_model_setting_refuses_ill_values_in_one_line(model, name, data, tmp_path, capsys):
    declared = models.REGISTRY[model].settings[name]
    value = data.draw(ill_values(declared), label=f"{model}.{name}")
    args = ["train", model, "--data", dataset_for(model)]
    assert_refused(args, name, value, tmp_path, capsys)


@pytest.mark.parametrize("name", list(TRAIN_SETTINGS))
@settings(max_examples=10, suppress_health_check=SHARED_FIXTURES)
@given(data=st.data())
def test_every_training_setting_refuses_ill_values_in_one_line(name, data, tmp_path, capsys):
    value = data.draw(ill_values(TRAIN_SETTINGS[name]), label=name)
    args = ["train", "gaussian_mixture", "--data", "eight_gaussians"]
    assert_refused(args, name, value, tmp_path, capsys)


@pytest.mark.parametrize("model", list(models.REGISTRY))
def test_every_default_is_allowed_and_every_setting_says_what_it_allows(model):
    for declared in models.REGISTRY[model].settings.values():
        declared.check(declared.default, model)
        assert declared.allowed()
    assert models.check_settings(model, {}) == {}


@pytest.mark.parametrize("model", list(models.REGISTRY))
def test_no_model_setting_shares_a_name_with_a_training_setting(model):
    """--set sends a name to the trainer when it has it: a model's setting of the same name
    (a flow's steps, a VAE's warmup) could never be set (seed is meant for both)."""
    shared = set(models.REGISTRY[model].settings) & set(TRAIN_SETTINGS) - {"seed"}
    assert not shared, f"{model}'s {', '.join(sorted(shared))} cannot be set from the CLI"


def test_training_defaults_are_allowed():
    assert TrainConfig() == TrainConfig.from_dict({})


def test_direct_construction_checks_too():
    """The checks live in GenerativeModel.__init__ and TrainConfig, not only in the CLI."""
    from scratchgen.data import DataInfo
    from scratchgen.models.latent.vae import VAE

    with pytest.raises(SettingError, match="vae setting latent must be an integer from 1 to "):
        VAE(DataInfo((4,), "binary"), latent=-1)
    with pytest.raises(SettingError, match="training setting lr must be a number above 0"):
        TrainConfig(lr=0.0)


def test_plain_forms_are_returned():
    """Lists for sequences, floats for numbers given as ints, dtypes named as JSON keeps them."""
    hidden = setting("hidden", (2,), Sequence[Size])
    assert hidden.check((3, 4), "m") == [3, 4]
    assert setting("lr", 1.0, Positive).check(2, "m") == 2.0
    assert setting("n", 1, Size).check(np.int64(3), "m") == 3
    with pytest.raises(SettingError, match="got 10000.0"):  # the constructor would keep a float
        setting("n", 1, Size).check(1e4, "m")
    hparams = models.check_settings("vae", {"dtype": np.float64, "hidden": (8,)})
    assert hparams == {"dtype": "float64", "hidden": [8]}


@pytest.mark.parametrize(
    "annotation, good, bad, allowed",
    [
        (Size, [1, 4096], [0, 4097, 2.5, True, "3", None], "an integer from 1 to 4096"),
        (Positive | None, [None, 1e-9, 7], [0.0, -1.0, math.nan, math.inf], "above 0, or null"),
        (Annotated[float, Range(0, 1, below=True)], [0, 0.999], [1.0, -0.1],
         "at least 0 and below 1"),
        (Literal["a", "b"], ["a", "b"], ["c", "", 1, None], "one of 'a', 'b'"),
        (Annotated[str, OneOf(("x",))], ["x"], ["y"], "one of 'x'"),
        (bool, [True, False], [0, 1, "true", None], "true or false"),
        (Sequence[Size], [[1], (2, 3)], [[], [0], "12", 12, [1, "a"]],
         "a non-empty list of integers from 1 to 4096"),
    ],
)  # fmt: skip
def test_each_kind_of_setting(annotation, good, bad, allowed):
    declared = setting("s", None, annotation)
    assert allowed in declared.allowed()
    for value in good:
        declared.check(value, "m")
    for value in bad:
        with pytest.raises(SettingError, match=r"^m setting s must be .*, got ") as error:
            declared.check(value, "m")
        assert repr(value)[:20] in str(error.value) and "\n" not in str(error.value)


def test_unknown_names_list_the_known_ones():
    with pytest.raises(SettingError, match="m has no setting b, c; its settings are a"):
        check_all({"a": setting("a", 1, int)}, {"b": 1, "c": 2}, "m")


def test_a_type_that_is_no_setting_is_refused_where_it_is_declared():
    with pytest.raises(TypeError, match="not one a setting can have"):
        setting("s", None, dict)
