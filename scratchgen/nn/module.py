"""``Module`` and ``Parameter``: the containers every layer and model is built from.

A module holds parameters (tensors the optimizer updates), buffers (arrays saved with the model
but not trained, such as PyTorch's masks and running statistics) and child modules, found by
assignment: ``self.weight = Parameter(...)``, ``self.mask = ...`` via ``register_buffer``,
``self.block = Linear(...)``. Names are dotted paths, as in PyTorch's ``state_dict``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from autodiff import Tensor


class Parameter(Tensor):
    """A tensor that a module trains: always floating point, always ``requires_grad``."""

    __slots__ = ()

    def __init__(self, data: Any, dtype: Any = None) -> None:
        super().__init__(data, requires_grad=True, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter" + super().__repr__().removeprefix("Tensor")


class Module:
    """Base class of layers and models: subclasses set attributes in ``__init__`` and write
    ``forward``; calling the module calls ``forward``."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameter_names", [])
        object.__setattr__(self, "_module_names", [])
        object.__setattr__(self, "_buffer_names", [])
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameter_names" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            )
        for registry in (self._parameter_names, self._module_names):
            if name in registry:
                registry.remove(name)
        if isinstance(value, Parameter):
            self._parameter_names.append(name)
        elif isinstance(value, Module):
            self._module_names.append(name)
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, array: np.ndarray) -> None:
        """An array saved in the state dict but not trained (a mask, a running statistic)."""
        if name not in self._buffer_names:
            self._buffer_names.append(name)
        object.__setattr__(self, name, np.asarray(array))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ traversal
    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name in self._module_names:
            yield name, getattr(self, name)

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every descendant, depth first, each once."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module.named_children()]
            stack.extend(reversed(children))

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """Every parameter, each once even when shared, with its dotted name."""
        seen: set[int] = set()
        for prefix, module in self.named_modules():
            for name in module._parameter_names:
                p = getattr(module, name)
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{prefix}.{name}" if prefix else name), p

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        for prefix, module in self.named_modules():
            for name in module._buffer_names:
                yield (f"{prefix}.{name}" if prefix else name), getattr(module, name)

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    # ------------------------------------------------------------------ modes and gradients
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active); ``eval()`` is ``train(False)``. Returns self."""
        for _, module in self.named_modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def to(self, dtype: Any) -> Module:
        """Cast every parameter and floating buffer to ``dtype`` (float64 for gradient checks)."""
        dtype = np.dtype(dtype)
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = None
        for _, module in self.named_modules():
            for name in module._buffer_names:
                array = getattr(module, name)
                if np.issubdtype(array.dtype, np.floating):
                    object.__setattr__(module, name, array.astype(dtype))
        return self

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, by dotted name (saved with ``np.savez``)."""
        state = {name: p.data.copy() for name, p in self.named_parameters()}
        state.update({name: np.array(b, copy=True) for name, b in self.named_buffers()})
        return state

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Copy arrays into the parameters and buffers; names and shapes must match."""
        own = dict(self.named_parameters())
        buffers = {name for name, _ in self.named_buffers()}
        missing = sorted((set(own) | buffers) - set(state))
        unexpected = sorted(set(state) - set(own) - buffers)
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict: missing {missing or 'nothing'}, unexpected "
                f"{unexpected or 'nothing'}"
            )
        for name, value in state.items():
            value = np.asarray(value)
            if name in own:
                p = own[name]
                if value.shape != p.shape:
                    raise ValueError(
                        f"load_state_dict: {name} has shape {value.shape} in the state but "
                        f"{p.shape} in the model"
                    )
                p.data = value.astype(p.dtype, copy=True)
            elif name in buffers:
                module_name, _, attribute = name.rpartition(".")
                module = dict(self.named_modules())[module_name]
                old = getattr(module, attribute)
                if value.shape != old.shape:
                    raise ValueError(
                        f"load_state_dict: buffer {name} has shape {value.shape} in the state "
                        f"but {old.shape} in the model"
                    )
                object.__setattr__(module, attribute, value.astype(old.dtype, copy=True))

    # ------------------------------------------------------------------ display
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        children = [
            f"  ({name}): " + repr(m).replace("\n", "\n  ") for name, m in self.named_children()
        ]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + (")" if not children else "\n" + "\n".join(children) + "\n)")
