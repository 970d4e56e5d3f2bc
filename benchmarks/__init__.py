"""Performance figures, printed side by side: ours, plain NumPy, and PyTorch CPU when installed.

Run ``python -m benchmarks`` (or ``python benchmarks/run.py``) from the repository root.
Speed is measured here, never timed in the tests.
"""

# before anything imports NumPy: the kernels' thread settings must be in place when it loads
import kernels  # noqa: F401
