"""Shared test settings.

Hypothesis: a modest number of examples (the suite must stay under twelve minutes on two cores),
no deadline (the first call of a Numba kernel compiles), and derandomized under CI so that a
red run is reproducible from its log.
"""

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True)
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=200)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default")
)


@pytest.fixture(scope="session", autouse=True)
def feature_network_cache(tmp_path_factory):
    """Feature networks trained by the tests go to one folder of the session, never to the
    user's cache; a test that needs a network of its own points SCRATCHGEN_FEATURES elsewhere.
    Under pytest-xdist the workers share the folder (the cache writes the weights, then the
    record, each atomically), so each network is trained about once per session."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's folder, above each worker's own
    folder = root / "features"
    folder.mkdir(exist_ok=True)
    previous = os.environ.get("SCRATCHGEN_FEATURES")
    os.environ["SCRATCHGEN_FEATURES"] = str(folder)
    yield folder
    if previous is None:
        del os.environ["SCRATCHGEN_FEATURES"]
    else:
        os.environ["SCRATCHGEN_FEATURES"] = previous
