"""One generic registry for every pluggable kind (losses, proxies, stages, backends, models)."""

from __future__ import annotations

import fnmatch
import importlib
from typing import Callable, Generic, TypeVar

from edgekd.errors import EdgekdError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> object table; duplicate names raise, unknown names list the known ones.

    A name may also be declared with the module that registers it (``declare``): that module is imported when the
    name is first looked up, so listing and checking names imports nothing heavy.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._modules: dict[str, str] = {}

    def declare(self, name: str, module: str) -> None:
        """``name`` is registered by importing ``module``, which happens on the first ``get(name)``."""
        self._modules[name] = module

    def register(self, name: str | None = None) -> Callable[[T], T]:
        """Decorator: ``@REG.register()`` uses the object's ``__name__``, ``@REG.register("x")`` uses "x"."""

        def add(obj: T) -> T:
            key = name or getattr(obj, "__name__")
            if key in self._items:
                raise ValueError(f"{self.kind} {key!r} is already registered")
            self._items[key] = obj
            return obj

        return add

    def get(self, name: str) -> T:
        if name not in self._items and name in self._modules:
            importlib.import_module(self._modules[name])
        if name not in self._items:
            known = ", ".join(self.names()) or "none"
            raise EdgekdError(f"unknown {self.kind} {name!r}; known: {known}")
        return self._items[name]

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in {*self._items, *self._modules} if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._modules
