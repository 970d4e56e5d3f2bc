"""Checkpoints: arrays in ``.npz`` (loaded with ``allow_pickle=False``) and settings in JSON,
each written to a temporary file in the same folder and then renamed over the old one, so a
crash mid-write leaves the previous checkpoint whole."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


class CheckpointError(Exception):
    """A checkpoint folder is missing pieces or holds something unreadable."""


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    for key, value in arrays.items():
        if np.asarray(value).dtype == object:
            raise TypeError(f"save_arrays: {key} is an object array, which would need pickle")
    _atomic_write(Path(path), lambda f: np.savez(f, **arrays))


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as loaded:
            return {key: loaded[key] for key in loaded.files}
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{path}: not a readable checkpoint ({error})") from None


def save_json(path: Path, value: Any) -> None:
    text = json.dumps(value, indent=2, sort_keys=True) + "\n"
    _atomic_write(Path(path), lambda f: f.write(text.encode()))


def load_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path}: not valid JSON ({error})") from None
