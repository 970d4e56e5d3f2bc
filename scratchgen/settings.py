"""Settings, each declared once by its default and its type, and checked before anything is
built.

A model declares its settings in its constructor's signature, a training run in the fields of
``TrainConfig``; the type says what is allowed:

    latent: Size = 16                                 an integer from 1 to 4096
    beta: NonNegative = 1.0                           a finite number >= 0
    kl: Literal["analytic", "mc"] = "analytic"        one of the words
    codebook: Annotated[str, OneOf(CODEBOOKS)] = ...  one of a tuple's words
    hidden: Sequence[Size] = (256, 256)               a non-empty list of such integers
    clip: Positive | None = None                      a number > 0, or null (none)
    revive: bool = True                               true or false

``declared_by_signature`` and ``declared_by_dataclass`` read them into ``Setting``s;
``Setting.check(value, owner)`` returns the value in its plain form (an int, a float, a list)
or raises ``SettingError``, whose one-line message names the setting, the value and what is
allowed, so that every model, those still to come included, gets the same checks and messages
from its signature alone.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np


class SettingError(ValueError):
    """A setting of the wrong type or out of its range; the message is one line."""


@dataclass(frozen=True)
class Range:
    """low <= value <= high (either may be None: no bound); ``above``/``below`` make a bound
    strict (a learning rate above 0, a decay below 1)."""

    low: float | None = None
    high: float | None = None
    above: bool = False
    below: bool = False

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return False
        return self.high is None or (value < self.high if self.below else value <= self.high)

    def describe(self) -> str:
        """'from 1 to 4096', 'above 0', 'at least 0 and below 1'."""
        low, high = _written(self.low), _written(self.high)
        if self.low is not None and self.high is not None and not (self.above or self.below):
            return f"from {low} to {high}"
        parts = []
        if self.low is not None:
            parts.append(f"{'above' if self.above else 'at least'} {low}")
        if self.high is not None:
            parts.append(f"{'below' if self.below else 'at most'} {high}")
        return " and ".join(parts)


def _written(bound: float | None) -> str:
    """A bound as a person writes it: 1000000000 rather than 1e+09, 0.5, 0."""
    if bound is None or isinstance(bound, int):
        return str(bound)
    return f"{bound:g}"


@dataclass(frozen=True)
class OneOf:
    """The words a str setting may take."""

    words: tuple[str, ...]


# The kinds of settings, named by what they count. The upper bounds keep a mistyped number
# from asking for terabytes: widths up to 4096 already make 64 MiB weight matrices.
Size = Annotated[int, Range(1, 4096)]  # widths, channels, components, codes, draws
Layers = Annotated[int, Range(1, 64)]
KernelSize = Annotated[int, Range(1, 15)]
Classes = Annotated[int, Range(0, 4096)]  # 0: not class-conditional
Steps = Annotated[int, Range(0, 10**9)]  # a count of training steps, 0 allowed
Every = Annotated[int, Range(1, 10**9)]  # a period or a total, in steps
Examples = Annotated[int, Range(0, 10**7)]  # a count of examples kept by a model, 0 allowed
Seed = Annotated[int, Range(0, 2**32 - 1)]
Positive = Annotated[float, Range(0, above=True)]
NonNegative = Annotated[float, Range(0)]
Decay = Annotated[float, Range(0, 1, below=True)]  # the weight of the past in an average
Probability = Annotated[float, Range(0, 1)]


@dataclass(frozen=True)
class Setting:
    """One setting: its name, default, kind (int, float, bool, str or list), range or words,
    whether None is allowed, and for a list the setting of its elements."""

    name: str
    default: Any
    kind: type
    range: Range | None = None
    words: tuple[str, ...] | None = None
    optional: bool = False
    element: Setting | None = None

    def allowed(self, plural: bool = False) -> str:
        """What is allowed, in words: 'an integer from 1 to 4096', "one of 'mlp', 'conv'"."""
        if self.kind is list:
            assert self.element is not None
            text = f"a non-empty list of {self.element.allowed(plural=True)}"
            text += f", like {list(self.default)}" if self.default else ""
        elif self.words is not None:
            text = "one of " + ", ".join(repr(w) for w in self.words)
        elif self.kind is bool:
            text = "true or false"
        else:
            nouns = {int: ("an integer", "integers"), float: ("a number", "numbers"),
                     str: ("a word", "words")}  # fmt: skip
            text = nouns[self.kind][plural]
            text += f" {self.range.describe()}" if self.range else ""
        return f"{text}, or null" if self.optional else text

    def check(self, value: Any, owner: str) -> Any:
        """The value in its plain form, or a SettingError naming owner, setting and value."""
        if value is None and self.optional:
            return None
        plain = self._plain(value)
        if plain is _REFUSED:
            raise SettingError(
                f"{owner} setting {self.name} must be {self.allowed()}, got {_shown(value)}"
            )
        return plain

    def _plain(self, value: Any) -> Any:
        if self.kind is bool:
            return value if isinstance(value, bool) else _REFUSED
        if self.kind is str:
            if not isinstance(value, str) or (self.words is not None and value not in self.words):
                return _REFUSED
            return value
        if self.kind is list:
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
                return _REFUSED
            assert self.element is not None
            elements = [self.element._plain(v) for v in value]
            return _REFUSED if any(v is _REFUSED for v in elements) else elements
        number = _number(value, integer=self.kind is int)
        if number is _REFUSED or (self.range is not None and number not in self.range):
            return _REFUSED
        return number


_REFUSED = object()


def _number(value: Any, integer: bool) -> Any:
    """An int, or for a number any finite real (NumPy's scalars included), as a float. A float
    is no integer even when whole (1e4): the model's constructor would go on with the float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return _REFUSED
    if integer:
        return int(value) if isinstance(value, numbers.Integral) else _REFUSED
    return float(value) if math.isfinite(value) else _REFUSED


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def setting(name: str, default: Any, annotation: Any) -> Setting:
    """The Setting a resolved annotation declares (see the module docstring)."""
    optional = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(kinds) != 1 or len(typing.get_args(annotation)) != 2:
            raise TypeError(f"setting {name}: only X | None unions are supported")
        optional, annotation = True, kinds[0]
        origin = typing.get_origin(annotation)
    value_range, words = None, None
    if origin is Annotated:
        annotation, *marks = typing.get_args(annotation)
        for mark in marks:
            if isinstance(mark, Range):
                value_range = mark
            elif isinstance(mark, OneOf):
                words = tuple(mark.words)
        origin = typing.get_origin(annotation)
    if origin is Literal:
        words, annotation = tuple(typing.get_args(annotation)), str
    if origin in (list, Sequence, tuple):
        (element,) = typing.get_args(annotation)[:1]
        return Setting(name, default, list, optional=optional,
                       element=setting(f"{name}[]", None, element))  # fmt: skip
    if annotation not in (int, float, bool, str):
        raise TypeError(f"setting {name}: type {annotation!r} is not one a setting can have")
    return Setting(name, default, annotation, value_range, words, optional)


def declared_by_signature(function: Callable[..., Any], skip: int = 2) -> dict[str, Setting]:
    """The settings a function declares: its keyword parameters with defaults, after the first
    ``skip`` (self, info)."""
    hints = typing.get_type_hints(function, include_extras=True)
    found = {}
    for parameter in list(inspect.signature(function).parameters.values())[skip:]:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.default is parameter.empty:
            continue  # supplied by a subclass, which declares it
        found[parameter.name] = setting(parameter.name, parameter.default, hints[parameter.name])
    return found


def declared_by_dataclass(cls: type) -> dict[str, Setting]:
    """The settings a dataclass declares: its fields, their types and defaults."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return {f.name: setting(f.name, f.default, hints[f.name]) for f in dataclasses.fields(cls)}


def check_all(settings: dict[str, Setting], values: dict[str, Any], owner: str) -> dict[str, Any]:
    """Every value checked against its setting; an unknown name is an error that lists the
    known ones. Returns the values in plain form (settings not given are left out)."""
    unknown = sorted(set(values) - set(settings))
    if unknown:
        raise SettingError(f"{owner} has no setting {', '.join(unknown)}; its settings are "
                           f"{', '.join(sorted(settings))}")  # fmt: skip
    return {name: settings[name].check(value, owner) for name, value in values.items()}
