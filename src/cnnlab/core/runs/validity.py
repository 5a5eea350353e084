"""The one validity rule of a finished run folder, shared by the run cache (core.runs.folders) and the
catalogue behind `cnnlab runs` (core.runs.catalog): what a run must hold to be reused or listed as ok.

Everything is read through core.readback: a run folder is untrusted input, whoever wrote it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cnnlab.core import readback
from cnnlab.core.errors import clip, shorten
from cnnlab.core.io import load_json
from cnnlab.core.readback import UntrustedData

__all__ = [
    "SUMMARY",
    "SUMMARY_KEYS",
    "run_problem",
    "documents_problem",
    "files_problem",
    "load_summary",
    "load_history",
]

SUMMARY = "summary.json"
SUMMARY_KEYS = ("run_id", "kind", "version", "seed", "data", "wall_seconds")  # what write_summary always writes


def run_problem(path: str | os.PathLike) -> str | None:
    """Why `path` is not a valid finished run folder (one line), or None when it is one.

    Valid: config.json and summary.json hold JSON objects (the summary with the keys every run
    writes, its run_id the folder's name, its metrics numbers: `documents_problem`), every line of
    metrics.jsonl is a JSON object, and the files its kind needs are there (a checkpoint a readable
    one: `files_problem`). Everything is read through core.readback: a FIFO, a link to /dev/zero or
    JSON nested 100,000 deep is a problem named here, never a hang or a RecursionError.
    """
    path = Path(path)
    if not path.is_dir():
        return "not a folder"
    docs = {}
    for name in ("config.json", SUMMARY):
        try:
            docs[name] = load_json(path / name)
        except FileNotFoundError:
            return f"{name} is missing"
        except UntrustedData as exc:
            return clip(exc, 160)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            return f"{name} is unreadable ({type(exc).__name__})"
    problem = documents_problem(path.name, docs["config.json"], docs[SUMMARY])
    if problem is not None:
        return problem
    try:
        history = load_history(path)
    except FileNotFoundError:
        return "metrics.jsonl is missing"
    except UntrustedData as exc:
        return clip(exc, 160)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"metrics.jsonl is unreadable ({type(exc).__name__})"
    if not all(isinstance(row, dict) for row in history):
        return "metrics.jsonl holds a line that is not a JSON object"
    return files_problem(path, docs[SUMMARY]["kind"])


def files_problem(path: str | os.PathLike, kind: str) -> str | None:
    """Why the run folder `path` of `kind` lacks a file its kind needs (RunKind.files; a `.pt` file must
    be a readable checkpoint: core.readback.checkpoint_file), or None. Kinds not registered (their part
    not imported) need nothing more."""
    from cnnlab.core.runs.kinds import RUN_KINDS

    if kind not in RUN_KINDS:
        return None
    for name in RUN_KINDS.create(kind).files:
        try:
            if name.endswith(".pt"):
                readback.checkpoint_file(Path(path) / name, name)
            else:
                readback.regular_file(Path(path) / name, name)
        except FileNotFoundError:
            return f"{name} is missing"
        except UntrustedData as exc:
            return clip(exc, 160)
        except OSError as exc:
            return f"{name} is unreadable ({type(exc).__name__})"
    return None


_SUMMARY_TYPES = {
    "run_id": ((str,), "text"),
    "kind": ((str,), "text"),
    "version": ((str,), "text"),
    "seed": ((int,), "an integer"),
    "data": ((dict,), "an object"),
    "wall_seconds": ((int, float), "a number"),
}

# Optional summary fields and what they must be when present (None: cnnlab may write null there on purpose,
# e.g. a loss that was not finite). Accuracies are checked by their "_acc" suffix: numbers in [0, 1].
_OPTIONAL_NUMBERS = {
    "epochs_run": (int, False),
    "best_epoch": (int, True),
    "params": (int, False),
    "train_seconds": ((int, float), False),
}


def _metrics_problem(summary: Mapping[str, Any]) -> str | None:
    """Why the metrics of a summary are not what cnnlab writes (an accuracy "high" or null), or None."""

    def number(value: Any, types: Any) -> bool:
        return not isinstance(value, bool) and isinstance(value, types)

    for key, value in summary.items():
        if key.endswith("_acc") and not (number(value, (int, float)) and 0 <= value <= 1):
            return f"{SUMMARY}'s {key} is not an accuracy between 0 and 1 ({shorten(value)})"
        if key.endswith("_loss") and value is not None and not number(value, (int, float)):
            return f"{SUMMARY}'s {key} is not a number ({shorten(value)})"
    for key, (types, nullable) in _OPTIONAL_NUMBERS.items():
        value = summary.get(key)
        if key in summary and not (number(value, types) and value >= 0 or (nullable and value is None)):
            return f"{SUMMARY}'s {key} is not a non-negative number ({shorten(value)})"
    return None


def documents_problem(name: str, meta: Any, summary: Any) -> str | None:
    """Why a run folder called `name` with these config.json (`meta`) and summary.json documents is not a
    valid run (one line), or None: the rule shared by the run cache (`run_problem`) and `cnnlab runs`.

    Both must be JSON objects; the summary holds SUMMARY_KEYS with their types (its run_id the folder's
    name, its seed an integer); config.json's "config" is an object; its accuracies are numbers in [0, 1]
    and its losses numbers or null. Read them with `core.io.load_json`, which also refuses NaN and Infinity.
    """
    for what, doc in (("config.json", meta), (SUMMARY, summary)):
        if not isinstance(doc, dict):
            return f"{what} does not hold a JSON object"
    missing = [k for k in SUMMARY_KEYS if k not in summary]
    if missing:
        return f"{SUMMARY} lacks {', '.join(missing)}"
    for key, (types, what) in _SUMMARY_TYPES.items():
        if isinstance(summary[key], bool) or not isinstance(summary[key], types):
            return f"{SUMMARY}'s {key} is not {what}"
    if summary["run_id"] != name:
        return f"{SUMMARY} names another run ({str(summary['run_id'])[:40]!r})"
    if not isinstance(meta.get("config"), dict):
        return "config.json holds no config"
    return _metrics_problem(summary)


def load_summary(run_path: str | os.PathLike) -> dict:
    """A run's summary.json, read as untrusted input (core.readback)."""
    return load_json(Path(run_path) / SUMMARY)


def load_history(run_path: str | os.PathLike) -> list[dict]:
    """A run's metrics.jsonl, one JSON value per line, read as untrusted input (core.readback): a line
    that is not strict JSON, or nested too deeply, is UntrustedData."""
    return readback.load_jsonl(Path(run_path) / "metrics.jsonl", "metrics.jsonl")
