"""Dropping Numba's cache of a package when any of its source files has changed.

Numba keeps each compiled function with the stamp (modification time and size) of the file it
is defined in, and reuses it while that stamp holds. The helpers compiled into it, inlined or
called, from other files, are not part of the stamp (numba/numba#8396): after an edit to
``kernels/_fast_exp.py``, the attention kernel loaded from the cache still runs the old exp.
During development here one such stale cache crashed a process with a segmentation fault.

So the package's stamp is taken as a whole: the names, modification times and sizes of all
its ``.py`` files, written beside Numba's files. When it differs at import, Numba's index and
data files in the package's ``__pycache__`` are removed, and every kernel compiles afresh on
its first call (about 15 s in all, once). This covers the cache Numba keeps beside the sources,
the one it uses whenever that folder is writable; with ``NUMBA_CACHE_DIR`` set, or a
read-only install, Numba keeps its files elsewhere and this does nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

STAMP_NAME = "sources.stamp"


def _stamp(package: Path) -> str:
    lines = []
    for source in sorted(package.glob("*.py")):
        info = source.stat()
        lines.append(f"{source.name} {info.st_mtime_ns} {info.st_size}")
    return "\n".join(lines)


def drop_stale_cache(package: Path) -> None:
    """Remove Numba's cached kernels of ``package`` if any of its sources changed since they
    were written."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    cache = package / "__pycache__"
    stamp, recorded = _stamp(package), cache / STAMP_NAME
    try:
        if recorded.read_text() == stamp:
            return
    except OSError:  # no stamp yet
        pass
    try:
        cache.mkdir(exist_ok=True)
        for entry in [*cache.glob("*.nbi"), *cache.glob("*.nbc")]:
            entry.unlink(missing_ok=True)
        partial = cache / f"{STAMP_NAME}.{os.getpid()}"
        partial.write_text(stamp)
        partial.replace(recorded)  # atomic: a concurrent import reads the old or the new stamp
    except OSError:  # a read-only install: Numba's cache is not here either
        pass
