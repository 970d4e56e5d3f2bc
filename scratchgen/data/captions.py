"""The shapes world's captions as a small language: its grammar, a writer and a parser that
invert each other, partial captions, and the word tokens a text encoder reads.

    caption := ""  |  phrase  |  phrase "and" phrase
    phrase  := "a" [size] [colour] (kind | "shape") ["at the" place]

e.g. "a large red circle at the top left and a small blue square at the bottom right" (every
training scene's caption names every attribute), or the partial "a red shape" and "a square
at the centre". The empty caption says nothing: it is the null condition of classifier-free
guidance. A scene holds one or two objects, so a caption names at most two.

A ``Phrase`` is (kind, colour, size, place), each a word of the grammar or None where the
phrase leaves it open; ``parse`` and ``write`` map between captions and lists of phrases, and
``parse(write(p)) == p`` for every list of at most two phrases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from scratchgen.data.shapes import COLOURS, KINDS, PLACES, SIZES, place_name

ATTRIBUTES = ("kind", "colour", "size", "place")
MAX_OBJECTS = 2
WORDS = ("a", "and", "at", "the", "shape", *SIZES, *COLOURS, *KINDS,
         *dict.fromkeys(word for place in PLACES for word in place.split()))  # fmt: skip
PAD, BEGIN = 0, 1  # token 0 pads a short caption; token 1 begins every one, the empty too
VOCABULARY = ("<pad>", "<begin>", *WORDS)
_TOKEN = {word: index for index, word in enumerate(VOCABULARY)}
# the longest caption: two phrases of "a size colour kind at the row column" and the "and"
LENGTH = 1 + 2 * 8 + 1


class CaptionError(ValueError):
    """A caption outside the grammar (the message says where and what would fit)."""


class Phrase(NamedTuple):
    kind: str | None = None
    colour: str | None = None
    size: str | None = None
    place: str | None = None


def write(phrases: Sequence[Phrase]) -> str:
    """The caption of ``phrases``, attributes left open (None) left unsaid."""
    if len(phrases) > MAX_OBJECTS:
        raise CaptionError(f"a caption names at most {MAX_OBJECTS} objects, got {len(phrases)}")
    parts = []
    for kind, colour, size, place in phrases:
        words = ["a", size, colour, kind or "shape"]
        if place is not None:
            words += ["at", "the", place]
        parts.append(" ".join(w for w in words if w is not None))
    return " and ".join(parts)


def _parse_phrase(words: list[str], caption: str) -> Phrase:
    def fail(expected: str) -> CaptionError:
        found = f"{words[0]!r}" if words else "the end"
        return CaptionError(f"caption {caption!r}: expected {expected}, found {found}")

    if not words or words[0] != "a":
        raise fail("'a' opening an object")
    words.pop(0)
    size = words.pop(0) if words and words[0] in SIZES else None
    colour = words.pop(0) if words and words[0] in COLOURS else None
    if not words or words[0] not in (*KINDS, "shape"):
        raise fail(f"a kind ({', '.join(KINDS)} or shape)")
    kind = words.pop(0)
    place = None
    if words:
        if words[:2] != ["at", "the"]:
            raise fail("'and' or 'at the' and a place")
        place = " ".join(words[2:])
        if place not in PLACES:
            raise CaptionError(f"caption {caption!r}: {place!r} is no place; places are "
                               f"{', '.join(PLACES)}")  # fmt: skip
    return Phrase(None if kind == "shape" else kind, colour, size, place)


def parse(caption: str) -> list[Phrase]:
    """The phrases of a caption; one outside the grammar raises a one-line CaptionError."""
    if not isinstance(caption, str):
        raise CaptionError(f"a caption is a string, got {type(caption).__name__}")
    words = caption.split()
    if not words:
        return []
    phrases, current = [], []
    for word in [*words, "and"]:
        if word != "and":
            current.append(word)
            continue
        phrases.append(_parse_phrase(current, caption))
        current = []
    if len(phrases) > MAX_OBJECTS:
        raise CaptionError(f"caption {caption!r}: a scene holds at most {MAX_OBJECTS} objects")
    return phrases


def partial(caption: str, rng: np.random.Generator, p_omit: float) -> str:
    """The caption with each attribute of each object left unsaid with probability p_omit: a
    text model trained on these also reads captions that leave things open."""
    if p_omit == 0:
        return caption
    phrases = [Phrase(*(None if rng.random() < p_omit else value for value in phrase))
               for phrase in parse(caption)]  # fmt: skip
    return write(phrases)


def tokenize(captions: Sequence[str], length: int = LENGTH) -> np.ndarray:
    """(n, length) int64 word tokens: BEGIN, the caption's words, then PAD. Each caption is
    parsed first, so that one outside the grammar is refused, not silently encoded."""
    tokens = np.full((len(captions), length), PAD, dtype=np.int64)
    for row, caption in enumerate(captions):
        parse(caption)
        words = caption.split()
        if len(words) + 1 > length:
            raise CaptionError(f"caption {caption!r}: more than {length - 1} words")
        tokens[row, : len(words) + 1] = [BEGIN, *(_TOKEN[w] for w in words)]
    return tokens


def scene_phrases(objects: Sequence[tuple]) -> list[Phrase]:
    """The phrases naming every attribute of a scene's objects (kind, colour, size, cx, cy)."""
    return [Phrase(kind, colour, size, place_name(cx, cy))
            for kind, colour, size, cx, cy in objects]  # fmt: skip
