"""Caption accuracy: how much of what a caption says a generated scene shows, read back by the
shapes network (``feature_network("shapes").predict``, inverse graphics) as an attribute
table (``data.shapes.ATTRIBUTES``).

A sample's objects are matched to its caption's phrases by the assignment that agrees on the
most attributes the caption names (a scene has at most two objects, so every assignment is
tried); then ``count`` is right when the scene has as many objects as the caption names, each
of ``kind``, ``colour``, ``size`` and ``place`` is scored over the phrases that name it, and
``all`` is the fraction of samples with the count and everything named right.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from scratchgen.data import captions as text
from scratchgen.data import shapes


def _agreement(phrase: text.Phrase, seen: tuple | None) -> list[bool | None]:
    """Per attribute: None if the phrase leaves it open, else whether ``seen`` shows it."""
    return [None if want is None else seen is not None and want == got
            for want, got in zip(phrase, seen or (None,) * 4)]  # fmt: skip


def caption_accuracy(captions: Sequence[str], table: np.ndarray) -> dict[str, float]:
    """The fraction right of ``count``, each attribute named, and ``all``, for samples whose
    read attribute rows ``table`` (n, len(ATTRIBUTES)) were drawn under ``captions``."""
    if len(captions) != len(table):
        raise ValueError(f"caption_accuracy: {len(captions)} captions for {len(table)} scenes")
    right = dict.fromkeys(text.ATTRIBUTES, 0)
    named = dict.fromkeys(text.ATTRIBUTES, 0)
    counts, whole = 0, 0
    for caption, seen in zip(captions, shapes.describe(table)):
        phrases = text.parse(caption)
        slots = [*seen, *[None] * len(phrases)]
        best = max((list(map(_agreement, phrases, chosen))
                    for chosen in itertools.permutations(slots, len(phrases))),
                   key=lambda a: sum(bool(v) for row in a for v in row))  # fmt: skip
        count_right = len(seen) == len(phrases) or not phrases
        counts += count_right
        for row in best:
            for attribute, value in zip(text.ATTRIBUTES, row):
                if value is not None:
                    named[attribute] += 1
                    right[attribute] += value
        whole += count_right and all(v is not False for row in best for v in row)
    n = len(captions)
    return {"count": counts / n,
            **{a: right[a] / named[a] for a in text.ATTRIBUTES if named[a]},
            "all": whole / n}  # fmt: skip
