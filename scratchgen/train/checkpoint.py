"""Checkpoints: arrays in ``.npz`` (loaded with ``allow_pickle=False``) and settings in JSON,
each written to a temporary file in the same folder, flushed to disk, and then renamed over the
old one, so that a crash or a kill mid-write leaves the previous file whole."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from scratchgen.data.array_files import ArrayFileError, read_arrays


class CheckpointError(Exception):
    """A checkpoint folder is missing pieces or holds something unreadable."""


class WriteError(OSError):
    """A file could not be written (disk full, no permission); the old file is untouched."""


def _atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.chmod(tmp, 0o644)  # mkstemp's 0o600 would make a run folder unreadable to others
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as error:
        raise WriteError(f"could not write {path}: {error.strerror or error}") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def remove_temporaries(folder: Path) -> None:
    """Delete the half-written temporary files a killed writer left in ``folder``; only to be
    called by the holder of the folder's lock, when nothing else can be writing there."""
    for leftover in Path(folder).glob(".*.tmp"):
        leftover.unlink(missing_ok=True)


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    for key, value in arrays.items():
        if np.asarray(value).dtype == object:
            raise TypeError(f"save_arrays: {key} is an object array, which would need pickle")
    _atomic_write(Path(path), lambda f: np.savez(f, **arrays))


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """The named arrays of an .npz checkpoint; CheckpointError says why one is unreadable."""
    try:
        arrays = read_arrays(path)
    except ArrayFileError as error:
        message = str(error).replace("no such file", "no such checkpoint")
        raise CheckpointError(message) from None
    if isinstance(arrays, np.ndarray):
        raise CheckpointError(f"{path}: a .npy array, not an .npz checkpoint of named arrays")
    return arrays


def save_text(path: Path, text: str) -> None:
    _atomic_write(Path(path), lambda f: f.write(text.encode()))


def save_json(path: Path, value: Any) -> None:
    save_text(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def load_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path}: not valid JSON ({error})") from None
    except OSError as error:
        raise CheckpointError(f"{path}: cannot be read ({error.strerror or error})") from None
