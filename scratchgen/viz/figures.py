"""Figures: image grids, 2-D samples, their displacements and densities, loss curves, and a
sampler's trajectory as an animated GIF. All draw with matplotlib's Agg backend, so no display
is needed; each returns the matplotlib Figure and, given ``path``, also saves it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _axes(ax: Any) -> tuple[Any, Any]:
    """The given axes and their figure, or a new 5x5 figure's."""
    if ax is not None:
        return ax.figure, ax
    return _pyplot().subplots(figsize=(5, 5))


def _finish(fig: Any, path: str | Path | None, ax: Any = None, title: str | None = None) -> Any:
    if title and ax is not None:
        ax.set_title(title)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100, bbox_inches="tight")
    return fig


def tile(images: np.ndarray, levels: int | None = None, columns: int | None = None) -> np.ndarray:
    """(n, C, H, W) images, values in [0, levels - 1] (or [0, 1] when levels is None), as one
    (rows H + gaps, columns W + gaps, 3) RGB array in [0, 1] with one-pixel white gaps."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"tile: expected (n, 1 or 3, H, W) images, got shape {images.shape}")
    images = images / (levels - 1) if levels else images
    images = np.clip(images, 0, 1)
    if images.shape[1] == 1:
        images = np.repeat(images, 3, axis=1)
    n, _, h, w = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    canvas = np.ones((rows * (h + 1) + 1, columns * (w + 1) + 1, 3))
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        canvas[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + c * (w + 1) : 1 + c * (w + 1) + w] = (
            image.transpose(1, 2, 0)
        )
    return canvas


def image_grid(
    images: np.ndarray,
    levels: int | None = None,
    columns: int | None = None,
    title: str | None = None,
    path: str | Path | None = None,
) -> Any:
    plt = _pyplot()
    canvas = tile(images, levels, columns)
    fig, ax = plt.subplots(
        figsize=(min(12, canvas.shape[1] / 12 + 1), min(12, canvas.shape[0] / 12 + 1))
    )
    ax.imshow(canvas, interpolation="nearest")
    ax.axis("off")
    return _finish(fig, path, ax, title)


def nearest_neighbour_grid(
    samples: np.ndarray,
    train: np.ndarray,
    levels: int | None = None,
    k: int = 5,
    title: str | None = None,
    path: str | Path | None = None,
) -> Any:
    """A memorisation check to look at: each sample (left column) beside its k nearest training
    images in Euclidean distance, nearest first. A sample identical to its neighbour is a copy."""
    from scratchgen.metrics import nearest_neighbours

    _, index = nearest_neighbours(samples, train, k)
    rows = np.concatenate([np.asarray(samples)[:, None], np.asarray(train)[index]], axis=1)
    return image_grid(rows.reshape(-1, *rows.shape[2:]), levels, columns=k + 1,
                      title=title or f"samples (left) and their {k} nearest training images",
                      path=path)  # fmt: skip


def scatter(
    samples: np.ndarray,
    reference: np.ndarray | None = None,
    title: str | None = None,
    path: str | Path | None = None,
    ax: Any = None,
) -> Any:
    """2-D samples (and, faintly behind them, reference data)."""
    fig, ax = _axes(ax)
    if reference is not None:
        ax.scatter(reference[:, 0], reference[:, 1], s=2, c="#bbbbbb", label="data")
    ax.scatter(samples[:, 0], samples[:, 1], s=2, c="#1f77b4", label="samples")
    ax.set_aspect("equal")
    return _finish(fig, path, ax, title)


def displacements(
    start: np.ndarray,
    end: np.ndarray,
    labels: tuple[str, str] = ("start", "end"),
    title: str | None = None,
    path: str | Path | None = None,
    ax: Any = None,
) -> Any:
    """2-D points moved by a map: each start point joined to its end point by a grey line
    (a consistency model's one-step map from noise to data, a flow's transport)."""
    fig, ax = _axes(ax)
    ax.plot(np.stack([start[:, 0], end[:, 0]]), np.stack([start[:, 1], end[:, 1]]),
            color="0.75", lw=0.5)  # fmt: skip
    ax.scatter(start[:, 0], start[:, 1], s=3, c="tab:blue", label=labels[0])
    ax.scatter(end[:, 0], end[:, 1], s=3, c="tab:red", label=labels[1])
    ax.legend(fontsize=7, loc="lower right")
    ax.set_aspect("equal")
    return _finish(fig, path, ax, title)


def density(
    log_prob: Callable[[np.ndarray], np.ndarray],
    extent: Sequence[float] = (-3, 3, -3, 3),
    resolution: int = 200,
    title: str | None = None,
    path: str | Path | None = None,
    ax: Any = None,
) -> Any:
    """exp(log_prob) on a grid over extent (x0, x1, y0, y1), as a heat map."""
    fig, ax = _axes(ax)
    x0, x1, y0, y1 = extent
    xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
    xx, yy = np.meshgrid(xs, ys)
    values = np.exp(log_prob(np.stack([xx.ravel(), yy.ravel()], 1))).reshape(xx.shape)
    ax.imshow(values, extent=(x0, x1, y0, y1), origin="lower", cmap="magma")
    return _finish(fig, path, ax, title)


def sequences(rows: np.ndarray, title: str | None = None, path: str | Path | None = None) -> Any:
    """1-D samples (waveforms, token ids) as stacked curves, one panel per row."""
    plt = _pyplot()
    rows = np.atleast_2d(rows)
    fig, axes = plt.subplots(len(rows), 1, figsize=(8, 1.1 * len(rows) + 0.5), sharex=True,
                             squeeze=False)  # fmt: skip
    for ax, row in zip(axes[:, 0], rows):
        ax.plot(row, lw=1)
        ax.set_yticks([])
    return _finish(fig, path, axes[0, 0], title)


def loss_curve(
    history: Sequence[dict[str, float]],
    keys: Sequence[str] = ("loss",),
    path: str | Path | None = None,
) -> Any:
    """Curves of logged values (``metrics.jsonl`` records) against the step."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key in keys:
        points = [(r["step"], r[key]) for r in history if key in r]
        if points:
            ax.plot(*zip(*points), label=key)
    ax.set_xlabel("step")
    ax.legend()
    return _finish(fig, path)


def trajectory_gif(
    frames: Sequence[np.ndarray] | dict[str, Sequence[np.ndarray]],
    path: str | Path,
    fps: int = 10,
    extent: Sequence[float] = (-3, 3, -3, 3),
    levels: int | None = None,
    titles: Sequence[str] | None = None,
) -> Path:
    """An animated GIF of a sampler's trajectory: each frame is a (n, 2) set of points or a
    batch of images (drawn as a grid). A dict of equally long sequences draws one panel per
    entry, side by side, each headed by its key (three GANs' samples over training, say).
    ``titles`` names each frame (default "step i / n")."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    plt = _pyplot()
    panels = dict(frames) if isinstance(frames, dict) else {"": frames}
    count = len(next(iter(panels.values())))
    if any(len(sequence) != count for sequence in panels.values()):
        raise ValueError("trajectory_gif: every panel needs the same number of frames")
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4), squeeze=False)
    first = np.asarray(next(iter(panels.values()))[0])
    points = first.ndim == 2 and first.shape[1] == 2

    def draw(i: int):
        for ax, (label, sequence) in zip(axes[0], panels.items()):
            ax.clear()
            if points:
                ax.scatter(sequence[i][:, 0], sequence[i][:, 1], s=2)
                ax.set_xlim(extent[:2])
                ax.set_ylim(extent[2:])
                ax.set_aspect("equal")
            else:
                ax.imshow(tile(sequence[i], levels), interpolation="nearest")
                ax.axis("off")
            ax.set_title(label)
        fig.suptitle(titles[i] if titles is not None else f"step {i + 1} / {count}")

    animation = FuncAnimation(fig, draw, frames=count)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    animation.save(path, writer=PillowWriter(fps=fps))
    plt.close(fig)
    return Path(path)
