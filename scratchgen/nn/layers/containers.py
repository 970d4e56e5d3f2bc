"""``ModuleList`` and ``Sequential``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from scratchgen.nn.module import Module


class ModuleList(Module):
    """A list of modules whose parameters belong to the parent."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> None:
        setattr(self, str(len(self._module_names)), module)

    def __iter__(self) -> Iterator[Module]:
        return self.children()

    def __len__(self) -> int:
        return len(self._module_names)

    def __getitem__(self, index: int) -> Module:
        return getattr(self, self._module_names[index])


class Sequential(ModuleList):
    """Applies its modules in order: Sequential(a, b)(x) = b(a(x))."""

    def __init__(self, *modules: Module) -> None:
        super().__init__(modules)

    def forward(self, x: Any) -> Any:
        for module in self.children():
            x = module(x)
        return x
