"""Nothing is lost to an interruption: Ctrl-C, SIGKILL at any moment (a checkpoint write
included), two runs in one folder, a disk that refuses a write. Each resumed run must end
exactly as an uninterrupted one: the same parameters, optimizer state and metrics log."""

import errno
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from scratchgen.cli import main
from scratchgen.train import checkpoint, folder_lock
from scratchgen.train import trainer as trainer_module

STEPS = 1500
RUN = ["gaussian_mixture", "--data", "eight_gaussians", "--quiet"]
LOGGED = ["log_every=1", "eval_every=500"]


def train_command(out, steps=STEPS, *settings):
    return [sys.executable, "-m", "scratchgen", "train", *RUN, "--steps", str(steps),
            "--out", str(out), *(["--set", *settings] if settings else [])]  # fmt: skip


def resume(out, steps=STEPS):
    return main(["train", *RUN, "--steps", str(steps), "--out", str(out), "--resume"])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run: its checkpoint's arrays and its metrics log."""
    out = tmp_path_factory.mktemp("reference") / "run"
    assert main(["train", *RUN, "--steps", str(STEPS), "--out", str(out),
                 "--set", *LOGGED, "checkpoint_every=100"]) == 0  # fmt: skip
    return checkpoint.load_arrays(out / "checkpoint.npz"), log_of(out)


def log_of(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def assert_same_run(out, reference):
    arrays, log = reference
    resumed = checkpoint.load_arrays(out / "checkpoint.npz")
    learned = [k for k in arrays if k.startswith(("model/", "optim/"))]
    assert learned and set(learned) <= set(resumed)
    for key in learned:
        np.testing.assert_array_equal(resumed[key], arrays[key], err_msg=key)
    assert log_of(out) == log  # every step once, in order, with the same numbers


def wait_for(condition, process, limit=60.0):
    deadline = time.monotonic() + limit
    while not condition():
        assert process.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.005)


def logged_steps(out) -> int:
    path = out / "metrics.jsonl"
    return path.read_text().count("\n") if path.exists() else 0


@pytest.mark.slow
@pytest.mark.parametrize("stop, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_checkpoints_the_step_reached_and_resume_continues_bit_for_bit(
    stop, code, tmp_path, reference
):
    """Ctrl-C (and SIGTERM, as a scheduler sends it) at a random step."""
    rng = np.random.default_rng(int(stop))
    out = tmp_path / "run"
    target = int(rng.integers(50, STEPS // 2))
    process = subprocess.Popen(train_command(out, STEPS, *LOGGED, "checkpoint_every=100"),
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    wait_for(lambda: logged_steps(out) >= target, process)
    process.send_signal(stop)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert err.count("\n") == 1 and "Traceback" not in err
    step = json.loads(str(checkpoint.load_arrays(out / "checkpoint.npz")["trainer/state"]))["step"]
    assert f"interrupted at step {step};" in err and "--resume" in err
    assert step >= target
    assert resume(out) == 0
    assert_same_run(out, reference)


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_a_resumable_checkpoint(tmp_path, reference):
    """checkpoint_every=1 makes checkpoint writes a large share of the run's time, so random
    kill times land inside them too."""
    rng = np.random.default_rng(11)
    for trial in range(3):
        out = tmp_path / f"run{trial}"
        process = subprocess.Popen(train_command(out, STEPS, *LOGGED, "checkpoint_every=1"),
                                   stderr=subprocess.DEVNULL)  # fmt: skip
        wait_for(lambda out=out: (out / "checkpoint.npz").exists(), process)
        time.sleep(float(rng.uniform(0.0, 0.5)))
        process.kill()
        process.wait(timeout=60)
        state = checkpoint.load_arrays(out / "checkpoint.npz")["trainer/state"]
        assert json.loads(str(state))["step"] >= 1
        assert resume(out) == 0
        assert_same_run(out, reference)
        assert not list(out.glob(".*.tmp"))  # a write cut short leaves nothing behind


def test_a_second_run_in_a_held_folder_is_refused_in_one_line(tmp_path):
    out = tmp_path / "run"
    with folder_lock(out):
        result = subprocess.run(train_command(out, 5), capture_output=True, text=True)
    assert result.returncode == 2
    assert "is in use by another scratchgen train" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (out / "checkpoint.npz").exists()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from scratchgen.train import folder_lock\n"
        f"with folder_lock({str(out)!r}):\n    print('held', flush=True); time.sleep(60)"
    )], stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait(timeout=60)
    with folder_lock(out):  # taken at once: the OS released the dead process's lock
        pass


@pytest.mark.slow
def test_two_runs_started_together_one_runs_and_one_is_refused(tmp_path):
    out = tmp_path / "run"
    command = train_command(out, 3000)
    runs = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(run.wait(timeout=120), run.stderr.read()) for run in runs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    assert "in use" in refused or "already holds a run" in refused
    assert refused.count("\n") == 1


@pytest.mark.parametrize("failing", ["checkpoint", "metrics log"])
def test_a_refused_write_stops_in_one_line_and_keeps_the_checkpoint(
    failing, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "run"
    replace, real_open = os.replace, open
    writes = {"n": 0}

    def full_disk_replace(src, dst):  # the third checkpoint (step 300) finds the disk full
        if str(dst).endswith("checkpoint.npz"):
            writes["n"] += 1
            if writes["n"] == 3:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return replace(src, dst)

    def read_only_log(path, *args, **kwargs):  # the log refuses its 251st record
        if str(path).endswith("metrics.jsonl") and logged["n"] >= 250:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        logged["n"] += str(path).endswith("metrics.jsonl")
        return real_open(path, *args, **kwargs)

    logged = {"n": 0}
    if failing == "checkpoint":
        monkeypatch.setattr(checkpoint.os, "replace", full_disk_replace)
    else:
        monkeypatch.setattr(trainer_module, "open", read_only_log, raising=False)
    code = main(["train", *RUN, "--steps", "500", "--out", str(out),
                 "--set", "log_every=1", "checkpoint_every=100"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1, err
    reason = "No space left on device" if failing == "checkpoint" else "Permission denied"
    assert "training stopped: could not write" in err and reason in err
    assert "the checkpoint at step 200 is intact" in err
    state = json.loads(str(checkpoint.load_arrays(out / "checkpoint.npz")["trainer/state"]))
    assert state["step"] == 200
    assert not list(out.glob(".*.tmp"))


def test_a_checkpoint_from_before_the_state_moved_inside_it_still_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *RUN, "--steps", "20", "--out", str(out)]) == 0
    arrays = checkpoint.load_arrays(out / "checkpoint.npz")
    del arrays["trainer/state"]  # as the trainer wrote it before: the state in trainer.json
    checkpoint.save_arrays(out / "checkpoint.npz", arrays)
    assert resume(out, steps=40) == 0
    assert json.loads((out / "metrics.json").read_text())["steps"] == 40
