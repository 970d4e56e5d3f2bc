"""Whether operations record a graph: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

The switch is one module-level flag rather than a thread-local, because the engine is
single-threaded by design (parallelism lives inside the Numba kernels) and every primitive call
reads the flag on its hot path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _GradMode:
    enabled: bool = True


def is_grad_enabled() -> bool:
    """True when new operations record the graph that backward will walk."""
    return _GradMode.enabled


class set_grad_enabled:
    """Context manager (and decorator) that turns graph recording on or off.

    ``with set_grad_enabled(False): ...`` is ``no_grad``; the previous state comes back on exit,
    so the contexts nest.
    """

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(_GradMode.enabled)
        _GradMode.enabled = self.mode

    def __exit__(self, *exc_info: object) -> None:
        _GradMode.enabled = self._previous.pop()

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(self.mode):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(set_grad_enabled):
    """Operations inside record no graph: for evaluation, sampling and optimizer updates."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Record the graph again inside a ``no_grad`` block."""

    def __init__(self) -> None:
        super().__init__(True)
