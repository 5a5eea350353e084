"""A tiny name -> factory registry used for models, datasets, transforms and experiment suites, and
`lazy`: a function named by its import path, imported when first called.

Registries feed CLI choices and test parametrisation, so anything registered is tested automatically.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cnnlab.core.errors import ConfigError, shorten

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories; `create(name, ...)` builds one, with a clear error for unknown names."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator: register `fn` under `name` (names are unique)."""

        def decorator(fn: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = fn
            return fn

        return decorator

    def get(self, name: str) -> Callable[..., T]:
        try:
            return self._entries[name]
        except KeyError:
            choices = ", ".join(sorted(self._entries))
            raise ConfigError(f"unknown {self.kind} {shorten(name)} (choose from: {choices})") from None

    def create(self, name: str, *args, **kwargs) -> T:
        return self.get(name)(*args, **kwargs)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


@dataclass(frozen=True)
class LazyFunction:
    """A function named "package.module:function", imported when first called (like an entry point).

    A registry entry can name the code that builds, trains or loads something without importing it:
    registering costs nothing (no torch), and the module that registers stays below the modules it
    names, so their imports of it make no cycle. Picklable (a process pool can take it)."""

    path: str

    def __post_init__(self) -> None:
        module, sep, name = self.path.partition(":")
        if not (module and sep and name):
            raise ValueError(f"a lazy function is named 'package.module:function', got {self.path!r}")

    def resolve(self) -> Callable[..., Any]:
        """The function itself (its module imported now)."""
        module, _, name = self.path.partition(":")
        return getattr(importlib.import_module(module), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)


def lazy(path: str) -> LazyFunction:
    """The function at `path` ("package.module:function"), imported when first called."""
    return LazyFunction(path)
