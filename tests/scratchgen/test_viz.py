import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from scratchgen import viz  # noqa: E402


def test_tile_places_images_with_gaps():
    images = np.zeros((5, 1, 2, 3))
    images[4] = 16
    canvas = viz.tile(images, levels=17, columns=3)
    assert canvas.shape == (2 * 3 + 1, 3 * 4 + 1, 3)
    assert np.all(canvas[4:6, 5:8] == 1.0)  # image 4: row 1, column 1, white at full level
    assert np.all(canvas[1:3, 1:4] == 0.0) and np.all(canvas[0] == 1.0)


def test_figures_write_files(tmp_path):
    rng = np.random.default_rng(0)
    viz.image_grid(rng.integers(0, 256, (6, 3, 8, 8)), levels=256, path=tmp_path / "grid.png")
    viz.scatter(rng.standard_normal((50, 2)), rng.standard_normal((50, 2)), path=tmp_path / "s.png")
    viz.density(lambda x: -0.5 * np.sum(x**2, 1), path=tmp_path / "d.png")
    start = rng.standard_normal((40, 2))
    viz.displacements(start, 0.5 * start, ("z", "f(z)"), path=tmp_path / "m.png")
    viz.loss_curve([{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.0}], path=tmp_path / "l.png")
    viz.sequences(rng.integers(0, 9, (3, 40)), path=tmp_path / "q.png")
    frames = [rng.standard_normal((30, 2)) * (1 + t) for t in range(3)]
    viz.trajectory_gif(frames, tmp_path / "t.gif", fps=5)
    plt.close("all")
    for name in ("grid.png", "s.png", "d.png", "m.png", "l.png", "q.png", "t.gif"):
        assert (tmp_path / name).stat().st_size > 1000
    assert (tmp_path / "t.gif").read_bytes()[:6] == b"GIF89a"


def test_a_gif_of_panels_side_by_side(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    frames = [rng.standard_normal((30, 2)) for _ in range(4)]
    path = viz.trajectory_gif({"a": frames, "b": frames, "c": frames}, tmp_path / "p.gif",
                              titles=[f"training step {100 * t}" for t in range(4)])  # fmt: skip
    with Image.open(path) as gif:
        assert gif.n_frames == 4 and gif.size[0] > 2.5 * gif.size[1]  # three panels wide
    plt.close("all")
    with pytest.raises(ValueError, match="same number of frames"):
        viz.trajectory_gif({"a": frames, "b": frames[:2]}, tmp_path / "q.gif")
