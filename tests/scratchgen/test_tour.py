"""The tour as a report: its sections, their budgets, and the page, opened in a real browser
where one exists."""

import contextlib
import io
import json
import math
from html.parser import HTMLParser
from pathlib import Path

import pytest

from scratchgen import tour
from scratchgen.cli import main
from tests.scratchgen.headless import Page, find_browser


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """The whole tour, quick, two sections at a time: its folder and what it printed."""
    out, printed = tmp_path_factory.mktemp("tour"), io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["tour", "--quick", "--workers", "2", "--out", str(out)]) == 0
    return out, printed.getvalue()


@pytest.fixture(scope="module")
def quick_tour(quick_run):
    return quick_run[0]


def pictures(folder):
    return sorted(p.name for pattern in ("*.png", "*.gif") for p in folder.glob(pattern))


class PageParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.links, self.ids, self.code = [], [], set(), []
        self._in_code = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        if tag == "a":
            self.links.append(attrs.get("href", ""))
        if "id" in attrs:
            self.ids.add(attrs["id"])
        self._in_code = tag == "code"

    def handle_data(self, data):
        if self._in_code:
            self.code.append(data)
            self._in_code = False


def test_the_tour_writes_its_figures_numbers_and_page(quick_tour):
    for name in ("tour.png", "gallery.png", "autoregressive.png", "latent.png", "evaluation.png",
                 "energy.png", "scores.png", "annealed_langevin.gif", "few_steps.png",
                 "index.html"):  # fmt: skip
        assert (quick_tour / name).stat().st_size > 2_000
    results = json.loads((quick_tour / "metrics.json").read_text())
    assert {"engine", "gaussian_mixture/eight_gaussians", "pixelcnn/digits", "transformer/grammar",
            "vae/digits_binary", "discrete_vae/digits_binary", "vqvae/digits_binary",
            "m2/digits_binary", "gaussian_mixture_em/eight_gaussians", "evaluation/fid_bias",
            "evaluation/parzen", "ebm_cd/eight_gaussians", "rbm_pcd/digits_binary",
            "ncsn/eight_gaussians", "exact_score/two_modes", "consistency",
            "discrete_diffusion"} <= set(results)  # fmt: skip
    page = PageParser()
    page.feed((quick_tour / "index.html").read_text())
    shown = [image["src"] for image in page.images]
    assert sorted(shown) == pictures(quick_tour)
    assert all(image.get("alt") for image in page.images)
    for section in tour.SECTIONS:  # a section each, with its command and its tutorial
        assert section.name in page.ids and f"#{section.name}" in page.links
        assert f"scratchgen tour --only {section.name}" in page.code
    assert not any(link.startswith(("http:", "https:")) for link in page.links)  # no network
    assert "<script" not in (quick_tour / "index.html").read_text()
    assert "Hessian-vector product" in (quick_tour / "index.html").read_text()


def test_only_runs_the_named_sections_and_list_names_them(tmp_path, capsys):
    assert main(["tour", "--list"]) == 0
    listed = capsys.readouterr().out.split("\n")
    assert [line.split()[0] for line in listed if line] == [s.name for s in tour.SECTIONS]
    assert main(["tour", "--quick", "--only", "engine", "--out", str(tmp_path)]) == 0
    assert set(json.loads((tmp_path / "metrics.json").read_text())) == {"engine"}
    assert [p.name for p in tmp_path.glob("*.png")] == ["tour.png"]
    assert main(["tour", "--only", "nope"]) == 2
    assert "no tour section nope; the sections are engine" in capsys.readouterr().err


def test_side_by_side_each_section_prints_whole_under_its_title(quick_run):
    out, printed = quick_run
    blocks = printed.split("scratchgen tour: ")[1:]
    titles = [block.split("\n", 1)[0] for block in blocks]
    assert sorted(titles[:-1]) == sorted(s.title for s in tour.SECTIONS)
    assert titles[-1].startswith(f"{len(tour.SECTIONS)} sections in ")
    assert titles[-1].endswith(" s on 2 processes")
    for block in blocks[:-1]:  # the lines of one section only, all indented
        lines = block.rstrip("\n").split("\n")[1:]
        assert lines and all(line.startswith("  ") for line in lines)
    engine = next(b for b in blocks if b.startswith("The autodiff engine"))
    assert f"wrote {out / 'tour.png'}" in engine and "gallery.png" not in engine


def test_the_numbers_are_the_same_in_one_process_and_in_workers_up_to_rounding(tmp_path):
    found = {}
    for workers in (1, 2):
        out = tmp_path / str(workers)
        assert main(["tour", "--quick", "--only", "engine", "mixtures", "--workers", str(workers),
                     "--out", str(out)]) == 0  # fmt: skip
        found[workers] = json.loads((out / "metrics.json").read_text())
    assert list(found[1]) == list(found[2]) and len(found[1]) > 1
    for result, values in found[1].items():
        for name, value in values.items():
            if name != "seconds":
                assert math.isclose(value, found[2][result][name], rel_tol=1e-3), (result, name)


def test_the_tour_refuses_fewer_than_one_worker(capsys):
    assert main(["tour", "--quick", "--only", "engine", "--workers", "0"]) == 2
    assert capsys.readouterr().err == "scratchgen: the tour needs at least one worker, not 0\n"


def test_the_sections_fit_the_tour_budget_with_room_for_the_families_to_come():
    names = [s.name for s in tour.SECTIONS]
    assert len(set(names)) == len(names)
    spent = sum(s.budget for s in tour.SECTIONS) + sum(tour.RESERVED.values())
    assert spent <= tour.SHARED_SECONDS < 2 * tour.TOUR_BUDGET
    tutorials = Path(tour.__file__).parents[2] / "tutorials"
    assert all(s.budget > 0 and (tutorials / s.tutorial).exists() for s in tour.SECTIONS)


BROWSER = find_browser()
IMAGES_SHOWN = "Array.from(document.images).map(i => [i.getAttribute('src'), i.complete && " \
    "i.naturalWidth > 0])"  # fmt: skip


@pytest.mark.skipif(BROWSER is None, reason="no Chromium or Chrome here; .ci/run installs "
                                            "Debian's chromium to run this check")  # fmt: skip
def test_the_page_loads_in_a_headless_browser_with_every_image_shown(quick_tour, tmp_path):
    page = Page(BROWSER, (quick_tour / "index.html").as_uri(), tmp_path / "profile")
    try:
        title, images = page.evaluate("document.title"), page.evaluate(IMAGES_SHOWN)
    finally:
        page.close()
    assert title == "scratchgen tour"
    assert sorted(src for src, _ in images) == pictures(quick_tour)
    assert all(shown for _, shown in images), images
    assert page.errors == []


@pytest.mark.skipif(BROWSER is None, reason="no Chromium or Chrome here")
def test_the_browser_check_sees_a_broken_image_and_console_errors(tmp_path):
    """The check above can fail: a missing image and a script error are both seen."""
    (tmp_path / "index.html").write_text(
        '<!DOCTYPE html><title>t</title><img src="missing.png"><script>nope();</script>'
    )
    page = Page(BROWSER, (tmp_path / "index.html").as_uri(), tmp_path / "profile")
    try:
        images = page.evaluate(IMAGES_SHOWN)
    finally:
        page.close()
    assert images == [["missing.png", False]]
    assert any("nope" in e for e in page.errors) and any("ERR_FILE" in e for e in page.errors)
