"""The registry of run kinds: what each kind of run folder can give back (its trained network, its
diagnostics). `cnnlab.load_model` and `cnnlab.inspect` dispatch on a run's kind through it.

Each part registers its kinds (`cnnlab.art.kinds`, `cnnlab.faces.kinds`) with functions that import
their heavy modules only when called, so registering costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnlab.core.errors import DataError
from cnnlab.core.registry import Registry

if TYPE_CHECKING:
    from torch import nn

__all__ = ["RunKind", "RUN_KINDS", "register_kind", "run_kind"]


@dataclass(frozen=True)
class RunKind:
    """One kind of run folder: `load_model(path)` returns its network in eval mode (None: the kind has no
    network), `inspect(path, split, device=..., method=...)` writes its diagnostics (None: it has none),
    `files` are the files every finished run of the kind holds (a `.pt` one a readable checkpoint): a
    cached run without them is damaged (core.runs.folders.run_problem) and trained again."""

    name: str
    part: str  # "Part 1" or "Part 2"
    load_model: Callable[[Path], nn.Module] | None = None
    inspect: Callable[..., Any] | None = None
    files: tuple[str, ...] = ()


RUN_KINDS: Registry[RunKind] = Registry("run kind")


def register_kind(kind: RunKind) -> RunKind:
    """Register `kind` under its name (names are unique)."""
    RUN_KINDS.register(kind.name)(lambda: kind)
    return kind


def run_kind(name: str, path: str | Path = "") -> RunKind:
    """The registered RunKind `name`; a DataError naming the run folder when no part knows it."""
    if name not in RUN_KINDS:
        where = f"run folder {path}: " if path else ""
        raise DataError(f"{where}unknown run kind {name!r} (known: {', '.join(RUN_KINDS.names())})")
    return RUN_KINDS.create(name)
