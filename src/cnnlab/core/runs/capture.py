"""How `run_cached` behaves for a cluster (cnnlab.core.cluster): no shared file system is assumed.

- On the client, `probing()`: a job runs here until its first run that is not cached; there `run_cached`
  raises `RunMissing` instead of training. A job whose runs are all cached thus finishes on the client
  (and is never sent); the others are sent to the cluster. The cache is the client's, with the ids of
  the one recipe, so ids and numbers are those of a local run.
- On a worker, `capturing(scratch)`: every run is written into a scratch folder of the task instead of
  the client's runs folder, and recorded; the task sends each run back as its files
  (`pack_run`), and the client writes them into its own runs folder (`folders.install_run_files`).
  A run folder is thus only ever written by the client, on a shared file system too.

The state is per thread: a Dask worker runs one task at a time per thread (cnnlab asks for one thread).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnlab.core.io import short_hash

__all__ = [
    "RunMissing",
    "Captured",
    "CapturedRun",
    "probing",
    "capturing",
    "redirect",
    "record",
    "check_probe",
    "pack_runs",
    "to_client_paths",
    "install_run_files",
]

MAX_RUN_FILE = 512 * 1024 * 1024  # bytes of one file a worker may send back (a checkpoint of a small CNN is far less)


class RunMissing(Exception):
    """Raised by `run_cached` under `probing()`: this run is not in the client's cache (it must be trained)."""

    def __init__(self, run_root: str) -> None:
        super().__init__(f"a run in {run_root} is not cached")
        self.run_root = run_root


@dataclass(frozen=True)
class CapturedRun:
    """A run a task used, as files: `root` is the client's runs folder, `files` maps relative paths to bytes."""

    root: str
    run_id: str
    files: dict[str, bytes]
    replace: bool  # --force: the client replaces its copy


@dataclass
class Captured:
    """What a task recorded: scratch folder -> client root, and the run folders it used (path, root, force)."""

    scratch: Path
    roots: dict[str, str] = field(default_factory=dict)  # scratch sub-folder -> the client's runs folder
    runs: list[tuple[Path, str, bool]] = field(default_factory=list)


_state = threading.local()


@contextlib.contextmanager
def probing() -> Iterator[None]:
    """Within this block `run_cached` raises RunMissing where it would train."""
    _state.probing = True
    try:
        yield
    finally:
        _state.probing = False


@contextlib.contextmanager
def capturing(scratch: str | os.PathLike) -> Iterator[Captured]:
    """Within this block runs are written below `scratch` and recorded in the yielded Captured."""
    captured = Captured(Path(scratch))
    _state.captured = captured
    try:
        yield captured
    finally:
        _state.captured = None


def check_probe(root: str | os.PathLike) -> None:
    """Called by `run_cached` where it would train: under `probing()`, raise RunMissing."""
    if getattr(_state, "probing", False):
        raise RunMissing(str(root))


def redirect(root: str | os.PathLike) -> str | os.PathLike:
    """The runs folder to write into: `root` itself, or under `capturing()` the task's scratch folder for it."""
    captured: Captured | None = getattr(_state, "captured", None)
    if captured is None:
        return root
    scratch = captured.scratch / short_hash(str(Path(root)))
    captured.roots[str(scratch)] = str(root)
    return scratch


def record(run_path: str | os.PathLike, root: str | os.PathLike, force: bool) -> None:
    """Under `capturing()`: remember that the task used this run folder (`root` as redirected)."""
    captured: Captured | None = getattr(_state, "captured", None)
    if captured is not None:
        captured.runs.append((Path(run_path), str(root), force))


def pack_runs(captured: Captured) -> list[CapturedRun]:
    """Every run folder the task used, as files to send to the client (each run once)."""
    out, seen = [], set()
    for path, scratch, force in captured.runs:
        if path in seen:
            continue
        seen.add(path)
        files = {}
        for file in sorted(path.rglob("*")):
            if file.is_file():
                if file.stat().st_size > MAX_RUN_FILE:
                    raise OSError(f"{file.name} of run {path.name} is over {MAX_RUN_FILE} bytes")
                files[file.relative_to(path).as_posix()] = file.read_bytes()
        out.append(CapturedRun(captured.roots[scratch], path.name, files, force))
    return out


def to_client_paths(value: Any, captured: Captured) -> Any:
    """`value` (a job's result) with every path into the scratch folder turned into the client's path."""
    prefixes = sorted(captured.roots.items(), key=lambda kv: -len(kv[0]))

    def convert(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: convert(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)) and not hasattr(v, "_fields"):
            return type(v)(convert(x) for x in v)
        if isinstance(v, (str, Path)):
            text = str(v)
            for scratch, root in prefixes:
                if text == scratch or text.startswith(scratch + os.sep):
                    moved = root + text[len(scratch) :]
                    return Path(moved) if isinstance(v, Path) else moved
        return v

    return convert(value)


def install_run_files(run: CapturedRun) -> Path:
    """Write a run sent back by a worker into the client's runs folder: a temporary folder, checked as a
    run (`folders.run_problem`), then renamed into place (`folders.install_folder`: a valid folder already
    there is kept unless `run.replace`). A run that is not valid is a DataError, and nothing is left."""
    import shutil

    from cnnlab.core.errors import DataError
    from cnnlab.core.processes import process_tag
    from cnnlab.core.runs.folders import install_folder, run_problem

    root = Path(run.root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / run.run_id
    if Path(run.run_id).name != run.run_id or run.run_id.startswith("."):
        raise DataError(f"a cluster worker sent back a run with a malformed id {run.run_id[:60]!r}")
    tmp = root / f".tmp-{run.run_id}-{process_tag()}"  # removed by clean_stale_tmp if this process dies
    staged = tmp / run.run_id  # named as the run, so that it validates as one
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        staged.mkdir(parents=True)
        for rel, data in run.files.items():
            if not rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
                raise DataError(f"a cluster worker sent back run {run.run_id} with a file outside it ({rel[:60]!r})")
            target = staged / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        problem = run_problem(staged)
        if problem is not None:
            raise DataError(f"a cluster worker sent back a damaged run {run.run_id} ({problem})")
        install_folder(staged, final, run.replace)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
