"""An edited helper in another file reaches the cached kernel that calls it."""

import os
import subprocess
import sys

HELPER = "from numba import njit\n\n\n@njit(cache=True)\ndef helper():\n    return {}\n"
KERNEL = """from numba import njit

from package.helper import helper


@njit(cache=True)
def kernel():
    return helper()
"""
INIT_DROPPING = """from pathlib import Path

from kernels._cache import drop_stale_cache

drop_stale_cache(Path(__file__).parent)
"""


def _kernel_result(root) -> int:
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_CACHE_DIR"}
    call = "from package.kernel import kernel; print(kernel())"
    result = subprocess.run([sys.executable, "-c", call], cwd=root, env=env, capture_output=True,
                            text=True, check=True)  # fmt: skip
    return int(result.stdout)


def _edit_helper(package, value: int) -> None:
    """A new body of the same size, stamped a second later: only the modification time tells."""
    helper = package / "helper.py"
    before = helper.stat().st_mtime_ns
    helper.write_text(HELPER.format(value))
    os.utime(helper, ns=(before + 10**9, before + 10**9))


def _package(root, init: str):
    package = root / "package"
    package.mkdir()
    (package / "__init__.py").write_text(init)
    (package / "helper.py").write_text(HELPER.format(1))
    (package / "kernel.py").write_text(KERNEL)
    return package


def test_an_edited_helper_is_compiled_into_the_kernel_again(tmp_path):
    package = _package(tmp_path, INIT_DROPPING)
    assert _kernel_result(tmp_path) == 1
    index = sorted((package / "__pycache__").glob("kernel.kernel-*.nbi"))
    assert index, "the kernel was not cached"
    written = index[0].stat().st_mtime_ns
    assert _kernel_result(tmp_path) == 1
    assert index[0].stat().st_mtime_ns == written, "an unchanged package lost its cache"
    _edit_helper(package, 2)
    assert _kernel_result(tmp_path) == 2


def test_without_the_drop_numba_keeps_the_stale_helper(tmp_path):
    """Why kernels._cache exists. If this fails, Numba has learned to follow its helpers'
    files (numba/numba#8396) and kernels._cache can go."""
    package = _package(tmp_path, "")
    assert _kernel_result(tmp_path) == 1
    _edit_helper(package, 2)
    assert _kernel_result(tmp_path) == 1
