"""The Part 1 run kinds, registered with `cnnlab.core.runs.kinds.RUN_KINDS`: a SimpleCNN run (`cnn`) and
the colour-only control (`colour-only`, a logistic regression: no network to load or inspect)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cnnlab.core.runs.kinds import RunKind, register_kind


def _load_cnn(path: Path) -> Any:
    from cnnlab.art.run import load_run_model

    return load_run_model(path)


def _inspect_cnn(path: Path, split: str = "test", **options: Any) -> Any:
    from cnnlab.art.inspect_run import inspect_run

    return inspect_run(path, split, **options)


CNN = register_kind(RunKind("cnn", "Part 1", load_model=_load_cnn, inspect=_inspect_cnn, files=("best.pt",)))
COLOUR_ONLY = register_kind(RunKind("colour-only", "Part 1"))
