"""Run folders: every result cnnlab reports lives in runs/<run id>/.

A run id is `<kind>-<hash>` where the hash covers (kind, resolved config, data hash, seed, cnnlab
version): the same work always maps to the same folder, so finished runs are cached. A run is
written into a hidden temporary folder and renamed into place only when complete, so a killed
process never leaves a half-written run, and a rerun simply starts that run again.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import torch

from cnnlab.core.version import __version__
from cnnlab.core.io import atomic_path, atomic_write_json, atomic_write_text, json_text, short_hash

log = logging.getLogger(__name__)

SUMMARY = "summary.json"


def run_key(kind: str, config: Mapping[str, Any], data_hash: str, seed: int) -> dict:
    """What identifies a run: changing any of it is a different run."""
    return {"kind": kind, "config": config, "data_hash": data_hash, "seed": seed, "version": __version__}


def run_id(kind: str, config: Mapping[str, Any], data_hash: str, seed: int) -> str:
    return f"{kind}-{short_hash(run_key(kind, config, data_hash, seed))}"


@dataclass(frozen=True)
class RunResult:
    """A finished run folder: its path, its summary.json, and whether it was reused from the cache."""

    path: Path
    summary: dict
    cached: bool


def find_cached_run(root: str | os.PathLike, kind: str, config: Mapping[str, Any], data_hash: str, seed: int) -> Path | None:
    """The finished run folder for this work, if there is one."""
    path = Path(root) / run_id(kind, config, data_hash, seed)
    return path if (path / SUMMARY).is_file() else None


def cached_run(root: str | os.PathLike, kind: str, config: Mapping[str, Any], data_hash: str, seed: int,
               force: bool = False) -> RunResult | None:
    """The cached RunResult for this work, or None when there is none or `force` asks to retrain."""
    path = None if force else find_cached_run(root, kind, config, data_hash, seed)
    if path is None:
        return None
    log.info("run %s is cached; reusing it", path.name)
    return RunResult(path, load_summary(path), True)


@dataclass(frozen=True)
class RunRecord:
    """A run folder read back: its resolved config.json, summary.json and per-epoch history."""

    path: Path
    meta: dict  # config.json: kind, seed, version, data, config (the resolved configuration)
    summary: dict
    history: list[dict]

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def kind(self) -> str:
        return str(self.meta.get("kind", self.summary.get("kind", "")))

    @property
    def config(self) -> dict:
        return dict(self.meta.get("config", {}))


def read_run(run_path: str | os.PathLike) -> RunRecord:
    """Read a finished run folder (config.json, summary.json, metrics.jsonl); a DataError names what is missing."""
    from cnnlab.core.errors import DataError

    path = Path(run_path)
    if not (path / SUMMARY).is_file():
        raise DataError(f"not a finished cnnlab run folder (no {SUMMARY}): {path}")
    try:
        meta = json.loads((path / "config.json").read_text(encoding="utf-8"))
        summary = load_summary(path)
        history = load_history(path) if (path / "metrics.jsonl").is_file() else []
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"unreadable run folder {path}: {exc}") from None
    if not isinstance(meta, dict) or not isinstance(summary, dict):
        raise DataError(f"unreadable run folder {path}: config.json and summary.json must hold objects")
    return RunRecord(path, meta, summary, history)


def load_summary(run_path: str | os.PathLike) -> dict:
    return json.loads((Path(run_path) / SUMMARY).read_text())


def load_history(run_path: str | os.PathLike) -> list[dict]:
    path = Path(run_path) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class RunDir:
    """Writer for one run folder (used inside `create_run`)."""

    def __init__(self, path: Path, final_path: Path, kind: str, config: Mapping[str, Any], data: Mapping[str, Any], seed: int) -> None:
        self.path = path  # the temporary folder being written
        self.final_path = final_path
        self.run_id = final_path.name
        self.kind = kind
        self.config = dict(config)
        self.data = dict(data)
        self.seed = seed
        self.started = time.time()

    def file(self, name: str) -> Path:
        return self.path / name

    def write_json(self, name: str, obj: Any) -> Path:
        atomic_write_json(self.path / name, obj)
        return self.path / name

    def write_text(self, name: str, text: str) -> Path:
        atomic_write_text(self.path / name, text)
        return self.path / name

    def write_history(self, history: list[dict]) -> None:
        """Per-epoch metrics as metrics.jsonl and metrics.csv."""
        self.write_text("metrics.jsonl", "".join(json_text(row) + "\n" for row in history))
        if history:
            keys = list(dict.fromkeys(k for row in history for k in row))
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=keys)
            writer.writeheader()
            writer.writerows(history)
            self.write_text("metrics.csv", buf.getvalue())

    def save_checkpoint(self, state_dict: Mapping[str, torch.Tensor], name: str = "best.pt") -> Path:
        """A plain state_dict, loadable with torch.load(weights_only=True)."""
        with atomic_path(self.path / name) as tmp:
            torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, tmp)
        return self.path / name

    def write_summary(self, summary: Mapping[str, Any]) -> dict:
        """summary.json: the given fields plus run id, kind, seed, data, version and wall seconds."""
        full = {
            "run_id": self.run_id,
            "kind": self.kind,
            "version": __version__,
            "seed": self.seed,
            "data": self.data,
            **summary,
            "wall_seconds": round(time.time() - self.started, 3),
        }
        self.write_json(SUMMARY, full)
        return full


@contextlib.contextmanager
def create_run(root: str | os.PathLike, kind: str, config: Mapping[str, Any], seed: int, data: Mapping[str, Any]) -> Iterator[RunDir]:
    """Write a run into a temporary folder; rename it to root/<run id> when the block succeeds.

    `data` must hold a "hash" (and usually a "name"). The resolved config is written first as
    config.json. On any exception the temporary folder is removed, so no half-written run remains.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rid = run_id(kind, config, str(data.get("hash", "")), seed)
    final = root / rid
    tmp = root / f".tmp-{rid}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    run = RunDir(tmp, final, kind, config, data, seed)
    try:
        run.write_json("config.json", {"kind": kind, "seed": seed, "version": __version__, "data": dict(data), "config": dict(config)})
        yield run
        if not (tmp / SUMMARY).is_file():
            raise RuntimeError("a run must write its summary before it finishes")
        if final.exists():  # finished meanwhile by another process: keep the one already there
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, final)
        run.path = final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def clean_stale_tmp(root: str | os.PathLike) -> int:
    """Remove temporary run folders left by killed processes (only those whose process is gone)."""
    removed = 0
    for path in Path(root).glob(".tmp-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and _pid_alive(int(pid)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
    return removed


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed worker can linger as a zombie until it is reaped: it writes nothing any more.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] not in ("Z", "X")
    except OSError:
        return True
