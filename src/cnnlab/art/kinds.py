"""The Part 1 run kinds, registered with `cnnlab.core.runs.kinds.RUN_KINDS`: a SimpleCNN run (`cnn`) and
the colour-only control (`colour-only`, a logistic regression: no network to load or inspect). The loader and
the inspector are named by import path (core.registry.lazy): registering imports no torch."""

from __future__ import annotations

from cnnlab.core.registry import lazy
from cnnlab.core.runs.kinds import RunKind, register_kind

CNN = register_kind(
    RunKind(
        "cnn",
        "Part 1",
        load_model=lazy("cnnlab.art.run:load_run_model"),
        inspect=lazy("cnnlab.art.inspect_run:inspect_run"),
        files=("best.pt",),
    )
)
COLOUR_ONLY = register_kind(RunKind("colour-only", "Part 1"))
