"""``import scratchgen`` alone: its subpackages load on first use, not before."""

import subprocess
import sys

import pytest

SUBPACKAGES = ["data", "distributions", "metrics", "models", "nn", "optim", "testing", "train",
               "viz"]  # fmt: skip


def run_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_bare_import_loads_no_subpackage():
    loaded = run_python(
        "import sys, scratchgen\n"
        "print(sorted(m for m in sys.modules if m.startswith('scratchgen')))"
    )
    assert loaded.strip() == "['scratchgen']"


def test_each_subpackage_is_reached_from_the_bare_package():
    names = ", ".join(f"scratchgen.{name}.__name__" for name in SUBPACKAGES)
    shown = run_python(f"import scratchgen; print({names})")
    assert shown.split() == [f"scratchgen.{name}" for name in SUBPACKAGES]


def test_the_readme_line_works_after_a_bare_import():
    shown = run_python("import scratchgen; print(scratchgen.data.load('rings').info.kind)")
    assert shown.strip() == "continuous"


def test_an_unknown_attribute_is_an_attribute_error():
    import scratchgen

    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        scratchgen.nonsense  # noqa: B018
    assert "models" in dir(scratchgen) and "Trainer" in dir(scratchgen)
