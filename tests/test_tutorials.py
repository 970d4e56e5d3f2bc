"""Every tutorial runs top to bottom, in its quick mode, as a reader would run it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).parent.parent / "tutorials").glob("[0-9][0-9]_*.py"))


def test_there_are_tutorials():
    assert TUTORIALS


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_runs(path, tmp_path):
    env = {**os.environ, "SCRATCHGEN_QUICK": "1", "MPLBACKEND": "Agg",
           "SCRATCHGEN_FEATURES": str(tmp_path / "features")}  # fmt: skip
    result = subprocess.run(
        [sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
