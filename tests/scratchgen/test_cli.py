"""The command line, end to end, in a temporary folder."""

import subprocess
import sys

from scratchgen.cli import main


def test_tour_quick_writes_its_figure(tmp_path, capsys):
    assert main(["tour", "--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "tour.png").stat().st_size > 10_000
    assert "Hessian-vector product" in capsys.readouterr().out


def test_unknown_command_is_one_line_and_exit_2():
    result = subprocess.run(
        [sys.executable, "-m", "scratchgen", "no-such-command"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "invalid choice" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_command_is_one_line_and_exit_2():
    result = subprocess.run([sys.executable, "-m", "scratchgen"], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
