"""``scratchgen tour``: the demo, a section per family of the course, written as a report.

Each section trains small models, prints what it finds, and draws figures; ``run_tour`` writes
them all into one folder with ``metrics.json`` (every number) and ``index.html`` (the page a
person looks at: every figure, the numbers, and for each section the command that reproduces
it and its tutorial). ``scratchgen tour --only NAME ...`` runs some sections, ``--list`` names
them.

The sections are independent (each seeds its own generators from ``seed``), so they run side by
side, one per core (``workers``), the largest budget first. In one process the tour kept two
cores 114% busy, since much of a section's time is Python between small array operations; two
at a time it took 125 s instead of 268 s. Each worker gets one thread for the BLAS and for our
kernels, so that two workers do not ask for four threads between them. One thread sums in
another order than two, so the numbers differ from a one-process run in their rounding, and a
chaotic run can amplify that: WGAN-GP's 600 steps on the eight Gaussians found 8 modes in one
process and 3 in a worker (seeds 0-3 in workers: 3, 5, 3 and 8).

The whole tour must stay under ``TOUR_BUDGET`` seconds on two cores when every family of the
course is in it, so each section declares its share (``Section.budget``: its own time, on one
core beside another section), and the shares of the families still to come are held in reserve
here: a new section takes its share from ``RESERVED`` and states it in its ``Section``. A share
is a fifth above the section's time on a good day (the machines drift that much within
minutes). Two at a time, the tour takes about half the shares' sum, so the shares may add up to
``SHARED_SECONDS``: both cores for the budget, less 15% for pairs that do not come out even.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from scratchgen.tour import (
    autoregressive,
    controllable,
    diffusion,
    energy,
    engine,
    evaluation,
    few_steps,
    flows,
    frontier,
    gans,
    latent,
    mixtures,
    scores,
    text_to_image,
)
from scratchgen.tour.report import SectionReport, write_page
from scratchgen.tour.section import Section

TOUR_BUDGET = 240.0  # seconds on two cores, the README's promise (under four minutes)
SHARED_SECONDS = 0.85 * 2 * TOUR_BUDGET  # what the sections' own times may add up to

SECTIONS: list[Section] = [engine.SECTION, mixtures.SECTION, autoregressive.SECTION,
                           latent.SECTION, evaluation.SECTION, flows.SECTION,
                           gans.SECTION, energy.SECTION, scores.SECTION,
                           diffusion.SECTION, controllable.SECTION,
                           text_to_image.SECTION, frontier.SECTION, few_steps.SECTION]  # fmt: skip

# seconds kept for the families still to come (their issues), so that the tour stays in budget
RESERVED = {
    "homework (scratchgen.testing)": 10.0,
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


def default_workers() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _run_section(section: Section, out: Path, seed: int, quick: bool,
                 echo: bool) -> tuple[Section, SectionReport]:  # fmt: skip
    report = SectionReport(out, echo=echo)
    start = time.perf_counter()
    section.run(report, seed, quick)
    report.seconds = time.perf_counter() - start
    return section, report


def _run_in_worker(task: tuple[Section, Path, int, bool]) -> tuple[Section, SectionReport]:
    """A section in a worker, off its main thread: there the trainer takes no signals (only a
    main thread can), so the parent's ``terminate`` (SIGTERM) ends the worker at once instead
    of asking its training to stop at the end of a step. The parent prints the lines."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(_run_section, *task, echo=False).result()


def _start_worker() -> None:
    """Ctrl-C reaches every process of the terminal's group: the parent alone answers it, by
    terminating the workers, so that no worker prints a traceback of its own. And the
    trainer's tqdm, even disabled, would make a lock shared between processes, which a
    terminated worker leaves behind (a warning of leaked semaphores at exit): a worker's
    bars need only a lock of its own threads."""
    import threading

    from tqdm import tqdm

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tqdm.set_lock(threading.RLock())


# each worker's threads: our kernels' (Numba's) and the BLAS's, unless the user has set them
ONE_THREAD = ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _one_thread_each() -> Iterator[None]:
    """Within: processes started inherit one thread each, where the user set no count."""
    unset = [name for name in ONE_THREAD if name not in os.environ]
    os.environ.update(dict.fromkeys(unset, "1"))
    try:
        yield
    finally:
        for name in unset:
            del os.environ[name]


def _reports(sections: list[Section], out: Path, seed: int, quick: bool,
             workers: int) -> Iterator[tuple[Section, SectionReport]]:  # fmt: skip
    """Each section's report as it finishes: in this process, in the tour's order, or in
    ``workers`` fresh processes (spawned, as on every platform), the largest budget first."""
    if workers == 1:
        for section in sections:
            print(f"scratchgen tour: {section.title}", flush=True)
            yield _run_section(section, out, seed, quick, echo=True)
        return
    longest_first = sorted(sections, key=lambda s: s.budget, reverse=True)
    tasks = [(s, out, seed, quick) for s in longest_first]
    context = multiprocessing.get_context("spawn")
    with _one_thread_each():
        pool = context.Pool(workers, initializer=_start_worker)
    try:
        for section, report in pool.imap_unordered(_run_in_worker, tasks):
            print(f"scratchgen tour: {section.title}")
            print("\n".join(f"  {line}" for line in report.lines), flush=True)
            report.echo = True
            yield section, report
    finally:  # by an error or Ctrl-C too
        pool.terminate()
        pool.join()


def run_tour(out: Path, seed: int = 0, quick: bool = False, only: Sequence[str] | None = None,
             workers: int | None = None) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Run the chosen sections (all by default) into ``out`` on ``workers`` processes (one
    per core by default; 1 runs them in this process); returns their numbers."""
    from scratchgen.train.checkpoint import save_json

    sections = _chosen(only)
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ValueError(f"the tour needs at least one worker, not {workers}")
    workers = min(workers, len(sections))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start, reports = time.perf_counter(), {}
    for section, report in _reports(sections, out, seed, quick, workers):
        if report.seconds > section.budget and not quick:
            report.say(f"this section took {report.seconds:.0f} s, over its {section.budget:.0f} "
                       "s budget (a slow machine, or a section to trim)")  # fmt: skip
        reports[section.name] = report
    done = [(s, reports[s.name]) for s in sections]
    results = {key: value for _, report in done for key, value in report.metrics.items()}
    save_json(out / "metrics.json", results)
    seconds = time.perf_counter() - start
    page = write_page(out, done, seed, quick, seconds, workers)
    over = f", over its {TOUR_BUDGET:.0f} s budget" if seconds > TOUR_BUDGET and not quick else ""
    print(f"scratchgen tour: {len(sections)} sections in {seconds:.0f} s on {workers} "
          f"process{'es' if workers > 1 else ''}{over}")  # fmt: skip
    print(f"  wrote {out / 'metrics.json'} and {page}: open it in a browser")
    return results


__all__ = ["RESERVED", "SECTIONS", "SHARED_SECONDS", "TOUR_BUDGET", "Section", "default_workers",
           "run_tour", "section_list"]  # fmt: skip
