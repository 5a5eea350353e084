"""Diagnostics read back and said in words: `load_diagnostics` (a run's diagnostics.json, or None) and
`format_summary` (what `cnnlab inspect` prints)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cnnlab.core.diagnostics.metrics import DIAGNOSTICS_DIR, InspectResult


def format_summary(result: InspectResult, k: int = 3) -> str:
    """The lines `cnnlab inspect` prints: accuracy, the k most confused pairs and the k worst classes per split."""
    lines = [f"diagnostics of {result.run_path.name} ({result.kind}): {result.path}"]
    for name, d in result.splits.items():
        lines.append(f"{name}: accuracy {d.accuracy:.3f} ({int(np.trace(d.confusion))} of {d.n})")
        pairs = d.confused_pairs(k)
        lines.append(
            "  most confused: "
            + (
                "; ".join(f"{p['true']} -> {p['predicted']} {p['count']} of {p['of']}" for p in pairs)
                if pairs
                else "none (no errors)"
            )
        )
        lines.append(
            "  worst classes: "
            + "; ".join(f"{r['class']} {r['accuracy']:.2f} ({r['correct']}/{r['support']})" for r in d.worst_classes(k))
        )
    return "\n".join(lines)


def load_diagnostics(run_path: str | Path) -> dict[str, Any] | None:
    """A run's diagnostics.json, or None when it has not been inspected."""
    from cnnlab.core import readback

    path = Path(run_path) / DIAGNOSTICS_DIR / "diagnostics.json"
    return readback.load_json(path) if path.is_file() else None
