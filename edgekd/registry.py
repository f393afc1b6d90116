"""One generic registry for every pluggable kind (losses, proxies, stages, backends, models)."""

from __future__ import annotations

import fnmatch
from typing import Callable, Generic, TypeVar

from edgekd.errors import EdgekdError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> object table; duplicate names raise, unknown names list the known ones."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

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
        if name not in self._items:
            known = ", ".join(sorted(self._items)) or "none"
            raise EdgekdError(f"unknown {self.kind} {name!r}; known: {known}")
        return self._items[name]

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._items if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._items
