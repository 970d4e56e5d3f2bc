"""``scratchgen tour``: the demo, a section per family of the course, written as a report.

Each section trains small models, prints what it finds, and draws figures; ``run_tour`` writes
them all into one folder with ``metrics.json`` (every number) and ``index.html`` (the page a
person looks at: every figure, the numbers, and for each section the command that reproduces
it and its tutorial). ``scratchgen tour --only NAME ...`` runs some sections, ``--list`` names
them.

The whole tour must stay under ``TOUR_BUDGET`` seconds on two cores when every family of the
course is in it, so each section declares its share (``Section.budget``), and the shares of the
families still to come are held in reserve here: a new section takes its share from
``RESERVED`` and states it in its ``Section``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scratchgen.tour import (
    autoregressive,
    diffusion,
    energy,
    engine,
    evaluation,
    flows,
    gans,
    latent,
    mixtures,
    scores,
)
from scratchgen.tour.report import SectionReport, write_page
from scratchgen.tour.section import Section

TOUR_BUDGET = 240.0  # seconds on two cores, the README's promise (under four minutes)

SECTIONS: list[Section] = [engine.SECTION, mixtures.SECTION, autoregressive.SECTION,
                           latent.SECTION, evaluation.SECTION, flows.SECTION,
                           gans.SECTION, energy.SECTION, scores.SECTION,
                           diffusion.SECTION]  # fmt: skip

# seconds kept for the families still to come (their issues), so that the tour stays in budget
RESERVED = {
    "controllable generation": 15.0,
    "the frontier (flow matching, consistency, discrete diffusion)": 15.0,
}


class UnknownSection(ValueError):
    """A --only name that is no section of the tour."""


def section_list() -> str:
    """One line per section: its name, budget and title (``scratchgen tour --list``)."""
    return "\n".join(f"{s.name:16s} {s.budget:5.0f} s  {s.title}" for s in SECTIONS)


def _chosen(only: Sequence[str] | None) -> list[Section]:
    if not only:
        return list(SECTIONS)
    by_name = {s.name: s for s in SECTIONS}
    unknown = [name for name in only if name not in by_name]
    if unknown:
        raise UnknownSection(f"no tour section {', '.join(unknown)}; the sections are "
                             f"{', '.join(by_name)}")  # fmt: skip
    return [s for s in SECTIONS if s.name in only]


def run_tour(out: Path, seed: int = 0, quick: bool = False,
             only: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Run the chosen sections (all by default) into ``out``; returns their numbers."""
    from scratchgen.train.checkpoint import save_json

    sections = _chosen(only)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    done, results = [], {}
    for section in sections:
        print(f"scratchgen tour: {section.title}")
        report = SectionReport(out)
        start = time.perf_counter()
        section.run(report, seed, quick)
        report.seconds = time.perf_counter() - start
        if report.seconds > section.budget and not quick:
            report.say(f"this section took {report.seconds:.0f} s, over its {section.budget:.0f} "
                       "s budget (a slow machine, or a section to trim)")  # fmt: skip
        done.append((section, report))
        results.update(report.metrics)
    save_json(out / "metrics.json", results)
    page = write_page(out, done, seed, quick)
    print(f"  wrote {out / 'metrics.json'} and {page}: open it in a browser")
    return results


__all__ = ["RESERVED", "SECTIONS", "TOUR_BUDGET", "Section", "run_tour", "section_list"]
