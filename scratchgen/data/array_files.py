"""Reading .npy and .npz files without pickle, with errors that say what is wrong in words.

``np.load(path, allow_pickle=False)`` answers a file that is neither format by suggesting
``allow_pickle=True`` (it guesses the file is a pickle). That advice must never be followed for
a file from elsewhere, since unpickling runs code; so the format is recognised here by its
first bytes, and every failure is said plainly.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"  # an .npz is a zip archive of .npy files


class ArrayFileError(ValueError):
    """A file that holds no readable arrays; the message is one line and says why."""


def read_arrays(path: Path) -> np.ndarray | dict[str, np.ndarray]:
    """The array in a .npy file, or the named arrays in an .npz file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            start = f.read(len(NPY_MAGIC))
    except FileNotFoundError:
        raise ArrayFileError(f"{path}: no such file") from None
    except OSError as error:
        raise ArrayFileError(f"{path}: cannot be read ({error.strerror or error})") from None
    if not (start.startswith(NPY_MAGIC) or start.startswith(ZIP_MAGIC)):
        raise ArrayFileError(
            f"{path}: not a .npy or .npz file (it does not begin as either format does)"
        )
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            return loaded
        with loaded:
            return {key: loaded[key] for key in loaded.files}
    except ValueError as error:
        if "pickle" in str(error):
            reason = "it holds Python objects (an object array), which are never read here"
        else:
            reason = str(error).splitlines()[0]
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        reason = f"it is damaged or cut short ({error})"
    raise ArrayFileError(f"{path}: not a readable array file: {reason}")
