"""``Optimizer``: the shared part of every update rule.

An optimizer holds the parameters, its hyperparameters (``lr`` may be changed by a schedule)
and a dictionary of arrays per parameter (momentum, moment estimates). ``state_dict`` is flat,
``{name: ndarray}``, so it saves with ``np.savez`` beside the model's and a resumed run
continues exactly.

Updates run in place: each rule writes its intermediate results into one scratch array of the
largest parameter's size, shared by all the parameters (``_scratch``), instead of allocating a
temporary for every term of every parameter at every step.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from autodiff import Tensor, no_grad


class Optimizer:
    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got no parameters to optimise")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{type(self).__name__}: a parameter appears twice")
        for p in self.params:
            if not (isinstance(p, Tensor) and p.requires_grad and p.is_leaf):
                raise TypeError(
                    f"{type(self).__name__}: parameters must be leaf tensors that require grad"
                )
        if lr < 0:
            raise ValueError(f"{type(self).__name__}: learning rate must be >= 0, got {lr}")
        self.lr = float(lr)
        self.steps = 0
        self.state: list[dict[str, np.ndarray]] = [{} for _ in self.params]
        self._buffers: dict[np.dtype, np.ndarray] = {}

    def _scratch(self, like: np.ndarray) -> np.ndarray:
        """A scratch array of ``like``'s shape and dtype (a view of a buffer shared by every
        parameter; its contents are garbage until written)."""
        buffer = self._buffers.get(like.dtype)
        if buffer is None or buffer.size < like.size:
            size = max(p.size for p in self.params if p.dtype == like.dtype)
            buffer = self._buffers[like.dtype] = np.empty(max(size, like.size), like.dtype)
        return buffer[: like.size].reshape(like.shape)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        self.steps += 1
        with no_grad():
            for p, state in zip(self.params, self.state):
                if p.grad is not None:
                    self._update(p.data, p.grad.data.astype(p.dtype, copy=False), state)

    def _update(self, theta: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        """Change ``theta`` in place given its gradient ``g``."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        out = {"lr": np.asarray(self.lr), "steps": np.asarray(self.steps)}
        for index, state in enumerate(self.state):
            out.update({f"{index}.{name}": array.copy() for name, array in state.items()})
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.lr = float(state["lr"])
        self.steps = int(state["steps"])
        self.state = [{} for _ in self.params]
        for key, array in state.items():
            if key in ("lr", "steps"):
                continue
            index, _, name = key.partition(".")
            if not index.isdigit() or int(index) >= len(self.params):
                raise KeyError(f"{type(self).__name__}.load_state_dict: unexpected entry {key!r}")
            p = self.params[int(index)]
            if np.shape(array) != p.shape:
                raise ValueError(f"{type(self).__name__}.load_state_dict: {key} has shape "
                                 f"{np.shape(array)}, parameter {index} has {p.shape}")  # fmt: skip
            self.state[int(index)][name] = np.array(array, dtype=p.dtype)
