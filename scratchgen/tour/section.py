"""A section of the tour: what it shows, where it is derived, and its share of the time."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from scratchgen.tour.report import SectionReport


@dataclass(frozen=True)
class Section:
    """``run(report, seed, quick)`` trains, prints through ``report.say``, draws through
    ``report.figure`` and fills ``report.metrics``. ``budget`` is its share, in seconds on two
    cores, of the whole tour's (``TOUR_BUDGET``); ``quick`` runs a few steps only (tests)."""

    name: str
    title: str
    summary: str
    tutorial: str
    budget: float
    run: Callable[[SectionReport, int, bool], None]


@functools.cache
def dataset(name: str):
    """A dataset loaded once for the whole tour, whichever sections use it."""
    from scratchgen import data

    return data.load(name)
