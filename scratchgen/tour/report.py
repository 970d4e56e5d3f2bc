"""The tour's report: what each section says, draws and measures, and the page that shows it.

``tour/index.html`` is one self-contained page: every figure the tour drew (the PNG files beside
it), each section's numbers in a table, its time against its budget, the one command that
reproduces it and its tutorial. It uses no script, no style sheet from elsewhere and no
network, so it opens from the folder as it is.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class SectionReport:
    """What one section of the tour produced. Sections call ``say`` for each line they print
    (``echo``: at once; a worker process keeps them for the parent to print), ``figure`` for
    each picture, and fill ``metrics`` (result name -> figures by name)."""

    out: Path
    lines: list[str] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)  # (file name, caption)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0
    echo: bool = True

    def say(self, line: str) -> None:
        if self.echo:
            print(f"  {line}")
        self.lines.append(line)

    def figure(self, fig: Any, name: str, caption: str, dpi: int = 90) -> None:
        """Save a matplotlib figure as ``out/name`` and close it."""
        import matplotlib.pyplot as plt

        fig.savefig(self.out / name, dpi=dpi)
        plt.close(fig)
        self._shown(name, caption)

    def animation(self, frames: Any, name: str, caption: str, **options: Any) -> None:
        """Save ``viz.trajectory_gif(frames, out/name, **options)``, shown like a figure."""
        from scratchgen import viz

        viz.trajectory_gif(frames, self.out / name, **options)
        self._shown(name, caption)

    def trajectory_animation(self, trajectory: Any, name: str, caption: str, frames: int = 30,
                             chains: int = 600, **options: Any) -> None:  # fmt: skip
        """``animation`` of about ``frames`` evenly spaced states of a sampler's trajectory
        (steps + 1, n, 2), the first ``chains`` chains of each."""
        every = max(1, (len(trajectory) - 1) // frames)
        self.animation([x[:chains] for x in trajectory[::every]], name, caption, **options)

    def _shown(self, name: str, caption: str) -> None:
        self.figures.append((name, caption))
        self.say(f"wrote {self.out / name}")


def _metrics_table(metrics: dict[str, dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(name for values in metrics.values() for name in values))
    if not columns:
        return ""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["result", *columns])
    rows = []
    for result, values in metrics.items():
        cells = [f"<td>{html.escape(result)}</td>"]
        for column in columns:
            value = values.get(column, "")
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            cells.append(f"<td>{html.escape(shown)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _tutorial_link(tutorial: str) -> str:
    """A link to the tutorial when the source tree is beside the package, else its name."""
    path = Path(__file__).resolve().parents[2] / "tutorials" / tutorial
    name = html.escape(f"tutorials/{tutorial}")
    return f'<a href="{path.as_uri()}">{name}</a>' if path.exists() else f"<code>{name}</code>"


STYLE = """body { font-family: sans-serif; max-width: 70em; margin: 2em auto; color: #222; }
img { max-width: 100%; border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9em; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
td:first-child { text-align: left; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; }
.over { color: #b00; }"""


def write_page(out: Path, sections: list[tuple[Any, SectionReport]], seed: int, quick: bool,
               seconds: float, workers: int) -> Path:  # fmt: skip
    """index.html for the sections that ran, in order, in ``seconds`` on ``workers``
    processes; returns its path."""
    total = sum(report.seconds for _, report in sections)
    side_by_side = (f", {workers} at a time: their own times add up to {total:.0f} s"
                    if workers > 1 else "")  # fmt: skip
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>scratchgen tour</title>',
        f"<style>{STYLE}</style></head><body>",
        "<h1>scratchgen tour</h1>",
        f"<p>{len(sections)} sections in {seconds:.0f} s{side_by_side} (seed {seed}"
        f"{', quick: a few steps each' if quick else ''}), written "
        f"{html.escape(time.strftime('%Y-%m-%d %H:%M'))}. Every section below is reproduced by "
        "its command; its tutorial derives what it shows.</p><ul>",
        *(f'<li><a href="#{s.name}">{html.escape(s.title)}</a></li>' for s, _ in sections),
        "</ul>",
    ]
    for section, report in sections:
        over = ' class="over"' if report.seconds > section.budget and not quick else ""
        parts += [
            f'<h2 id="{section.name}">{html.escape(section.title)}</h2>',
            f"<p>{html.escape(section.summary)}</p>",
            f"<p>Reproduce: <code>scratchgen tour --only {section.name}</code> &middot; "
            f"tutorial: {_tutorial_link(section.tutorial)} &middot; "
            f"<span{over}>{report.seconds:.1f} s of a {section.budget:.0f} s budget</span></p>",
        ]
        for name, caption in report.figures:
            parts.append(
                f'<figure><img src="{html.escape(name)}" alt="{html.escape(caption)}">'
                f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
        parts.append(_metrics_table(report.metrics))
        parts.append(f"<pre>{html.escape(chr(10).join(report.lines))}</pre>")
    parts.append("</body></html>")
    path = out / "index.html"
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path
