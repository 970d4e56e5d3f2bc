"""The OpenBLAS setting that ``import kernels`` makes, in fresh interpreters."""

import os
import subprocess
import sys

import pytest

SHOW = "import os; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"


def _run(code: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    environment.update(env)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=environment, check=True)  # fmt: skip
    return result.stdout.strip()


@pytest.mark.parametrize("first", ["kernels", "scratchgen"])
def test_importing_the_library_first_sets_it(first):
    assert _run(f"import {first}; {SHOW}") == "8"


def test_the_openblas_setting_is_not_made_once_numpy_has_loaded():
    # OpenBLAS would not read it any more; setting it then would only mislead
    assert _run(f"import numpy, kernels; {SHOW}") == "None"


def test_the_users_own_value_wins():
    assert _run(f"import kernels; {SHOW}", OPENBLAS_THREAD_TIMEOUT="20") == "20"
