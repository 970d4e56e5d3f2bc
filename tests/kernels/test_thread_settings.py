"""The process-wide settings that ``import kernels`` makes, in fresh interpreters."""

import os
import subprocess
import sys

import pytest

NAMES = ("OPENBLAS_THREAD_TIMEOUT", "OMP_WAIT_POLICY")
SHOW = f"import os; print(*(os.environ.get(k) for k in {NAMES}))"


def _run(code: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k not in NAMES}
    environment.update(env)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=environment, check=True)  # fmt: skip
    return result.stdout.strip()


@pytest.mark.parametrize("first", ["kernels", "scratchgen"])
def test_importing_the_library_first_sets_both(first):
    assert _run(f"import {first}; {SHOW}") == "8 PASSIVE"


def test_the_openblas_setting_is_not_made_once_numpy_has_loaded():
    # OpenBLAS would not read it any more; setting it then would only mislead
    assert _run(f"import numpy, kernels; {SHOW}") == "None PASSIVE"


def test_the_users_own_values_win():
    code = f"import kernels; {SHOW}"
    assert _run(code, OPENBLAS_THREAD_TIMEOUT="20", OMP_WAIT_POLICY="ACTIVE") == "20 ACTIVE"
