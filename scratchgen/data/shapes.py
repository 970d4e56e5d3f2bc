"""Procedural scenes: small RGB images of circles, squares and triangles, each with its
description and a caption. Generation as inverse graphics, and exact ground truth for
conditional models (class, attributes, text).

Each scene has one or two shapes on a black background, large ones painted first; a scene in
which a shape would be hidden (fewer than MIN_VISIBLE of its own pixels left) is drawn again,
so every shape a caption names can be seen. A shape has a kind, a colour, a size
and a centre; our rasteriser samples each pixel at 4x4 points and covers it by the fraction
inside (anti-aliasing), later shapes painted over earlier ones.
"""

from __future__ import annotations

import numpy as np

from scratchgen.data.dataset import DataInfo, Dataset

KINDS = ("circle", "square", "triangle")
COLOURS = {
    "red": (230, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 90, 240),
    "yellow": (240, 220, 40),
    "magenta": (220, 50, 210),
    "cyan": (40, 210, 220),
    "white": (240, 240, 240),
}
SIZES = {"small": 0.16, "large": 0.28}  # half-extent, as a fraction of the image side
SUPERSAMPLE = 4
MIN_VISIBLE = 4  # pixels a shape must keep, fully covered and not painted over


def _inside(kind: str, u: np.ndarray, v: np.ndarray, r: float) -> np.ndarray:
    """Which points (u, v), relative to the shape's centre, lie inside it."""
    if kind == "circle":
        return u * u + v * v <= r * r
    if kind == "square":
        return (np.abs(u) <= r) & (np.abs(v) <= r)
    # upward triangle with apex (0, -r) and base from (-r, r) to (r, r) (image y points down)
    return (v <= r) & (2 * u - v <= r) & (-2 * u - v <= r)


def render(objects: list[tuple[str, str, str, float, float]], size: int = 16) -> np.ndarray:
    """A (3, size, size) uint8 image of objects (kind, colour, size name, cx, cy in [0, 1])."""
    offsets = (np.arange(SUPERSAMPLE) + 0.5) / SUPERSAMPLE
    grid = (np.arange(size)[:, None] + offsets[None, :]).ravel() / size  # sample coordinates
    y, x = np.meshgrid(grid, grid, indexing="ij")
    image = np.zeros((3, size * SUPERSAMPLE, size * SUPERSAMPLE))
    for kind, colour, size_name, cx, cy in objects:
        mask = _inside(kind, x - cx, y - cy, SIZES[size_name])
        image[:, mask] = np.array(COLOURS[colour], dtype=float)[:, None]
    pooled = image.reshape(3, size, SUPERSAMPLE, size, SUPERSAMPLE).mean(axis=(2, 4))
    return np.round(pooled).astype(np.uint8)


PLACES = tuple(
    "centre" if (row, column) == ("middle", "centre") else f"{row} {column}"
    for row in ("top", "middle", "bottom")
    for column in ("left", "centre", "right")
)


def _place(cx: float, cy: float) -> int:
    """Which cell of the 3 x 3 grid holds the centre, row by row (an index into PLACES)."""
    return 3 * min(int(cy * 3), 2) + min(int(cx * 3), 2)


def place_name(cx: float, cy: float) -> str:
    """The name of the cell holding a centre: "top left", ..., "centre", ..."bottom right"."""
    return PLACES[_place(cx, cy)]


def caption(objects: list[tuple[str, str, str, float, float]]) -> str:
    """'a large red circle at the top left and a small blue square at the bottom right': every
    attribute of every object, in the grammar of ``scratchgen.data.captions``."""
    from scratchgen.data import captions  # which reads this module's words

    return captions.write(captions.scene_phrases(objects))


# What the image determines about a scene, one column each: how many objects (0 for one, 1 for
# two), then kind, colour, size and place of each. The objects are listed in reading order of
# their places (then large first, then by kind and colour), an order the image shows, unlike the
# order they were drawn in. A second object's columns are -1 when there is none.
ATTRIBUTES = ("count", "kind_1", "colour_1", "size_1", "place_1",
              "kind_2", "colour_2", "size_2", "place_2")  # fmt: skip
ATTRIBUTE_CLASSES = (2,) + (len(KINDS), len(COLOURS), len(SIZES), len(PLACES)) * 2


def _describe(obj: tuple[str, str, str, float, float]) -> tuple[int, int, int, int]:
    kind, colour, size_name, cx, cy = obj
    colour_index, size_index = list(COLOURS).index(colour), list(SIZES).index(size_name)
    return KINDS.index(kind), colour_index, size_index, _place(cx, cy)


def scene_attributes(scenes: list[list[tuple[str, str, str, float, float]]]) -> np.ndarray:
    """The (n, len(ATTRIBUTES)) integer table of what each scene's image shows."""
    table = np.full((len(scenes), len(ATTRIBUTES)), -1, dtype=np.int64)
    for row, objects in enumerate(scenes):
        described = sorted((_describe(obj) for obj in objects),
                           key=lambda d: (d[3], -list(SIZES.values())[d[2]], d))  # fmt: skip
        table[row, 0] = len(objects) - 1
        for slot, values in enumerate(described):
            table[row, 1 + 4 * slot : 5 + 4 * slot] = values
    return table


def describe(table: np.ndarray) -> list[list[tuple[str, str, str, str]]]:
    """The inverse of ``scene_attributes`` in words: each row as its objects (kind, colour,
    size, place); a predicted table's second object is read only when its count says two."""
    names = (KINDS, list(COLOURS), list(SIZES), PLACES)
    return [
        [tuple(names[a][row[1 + 4 * slot + a]] for a in range(4)) for slot in range(row[0] + 1)]
        for row in np.asarray(table)
    ]


def _draw_objects(rng: np.random.Generator) -> list[tuple[str, str, str, float, float]]:
    objects = []
    for _ in range(rng.integers(1, 3)):
        size_name = ("small", "large")[rng.integers(0, 2)]
        margin = SIZES[size_name]
        cx, cy = rng.uniform(margin, 1 - margin, 2)
        colour = list(COLOURS)[rng.integers(0, len(COLOURS))]
        objects.append((KINDS[rng.integers(0, 3)], colour, size_name, float(cx), float(cy)))
    # large shapes first, so a small one is painted on top
    return sorted(objects, key=lambda obj: -SIZES[obj[2]])


def visible_pixels(objects: list[tuple[str, str, str, float, float]], size: int = 16) -> list[int]:
    """For each object, how many pixels it fully covers that no later object paints over."""
    counts = []
    for index, (kind, colour, size_name, cx, cy) in enumerate(objects):
        alone = render([(kind, colour, size_name, cx, cy)], size)
        full = np.all(alone == np.array(COLOURS[colour])[:, None, None], axis=0)
        later = render(objects[index + 1 :], size).any(axis=0)
        counts.append(int(np.sum(full & ~later)))
    return counts


def random_scene(rng: np.random.Generator) -> list[tuple[str, str, str, float, float]]:
    """One or two shapes, every one of them visible."""
    while True:
        objects = _draw_objects(rng)
        if min(visible_pixels(objects)) >= MIN_VISIBLE:
            return objects


def _scenes(n: int, seed: int) -> tuple[np.ndarray, list, list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    scenes = [random_scene(rng) for _ in range(n)]
    images = np.stack([render(s) for s in scenes]).astype(np.int64)
    labels = np.array([KINDS.index(s[0][0]) for s in scenes])  # the first shape's kind
    return images, scenes, [caption(s) for s in scenes], labels


def shapes() -> Dataset:
    """10 000 training and 2 000 test scenes, (3, 16, 16), 256 levels per channel. Labels are
    the first shape's kind; ``extras`` hold each scene's objects and caption."""
    train, train_scenes, train_captions, train_labels = _scenes(10_000, seed=3)
    test, test_scenes, test_captions, test_labels = _scenes(2_000, seed=4)
    return Dataset(
        "shapes",
        train,
        test,
        DataInfo((3, 16, 16), "categorical", 256),
        train_labels,
        test_labels,
        extras={
            "train_scenes": train_scenes,
            "test_scenes": test_scenes,
            "train_captions": train_captions,
            "test_captions": test_captions,
        },
    )


def recoloured(objects: list[tuple[str, str, str, float, float]],
               colour: str) -> list[tuple[str, str, str, float, float]]:  # fmt: skip
    """The same scene with every object painted ``colour``."""
    return [(kind, colour, size, cx, cy) for kind, _, size, cx, cy in objects]


def _domain_pairs(n: int, seed: int, paired: bool) -> tuple[np.ndarray, list]:
    """n rows of (6, 16, 16): a scene with every object red in channels 0-2 and one with every
    object blue in 3-5, of the same geometry if ``paired``, else of another scene's. Returns
    them and the red scenes' objects."""
    rng = np.random.default_rng(seed)
    red = [recoloured(random_scene(rng), "red") for _ in range(n)]
    blue = red if paired else [random_scene(rng) for _ in range(n)]
    images = np.stack([np.concatenate([render(a), render(recoloured(b, "blue"))])
                       for a, b in zip(red, blue)]).astype(np.int64)  # fmt: skip
    return images, red


def red_blue() -> Dataset:
    """Two domains for unpaired translation (CycleGAN): scenes whose objects are all red and
    scenes whose objects are all blue, each row (6, 16, 16) holding one of each (channels 0-2
    red, 3-5 blue). The 10 000 training rows are unpaired (two independent scenes); the 1 000
    test rows are paired, the blue scene the red one repainted, so that the exact translation
    is known. ``extras["test_scenes"]`` holds the red test scenes' objects."""
    train, _ = _domain_pairs(10_000, seed=5, paired=False)
    test, test_scenes = _domain_pairs(1_000, seed=6, paired=True)
    return Dataset("shapes_red_blue", train, test, DataInfo((6, 16, 16), "categorical", 256),
                   extras={"test_scenes": test_scenes})  # fmt: skip
