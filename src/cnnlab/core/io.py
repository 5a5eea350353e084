"""Atomic file writes, strict JSON and hashing helpers.

Every file cnnlab writes goes through a temporary file in the same folder plus `os.replace`, so a
killed process leaves either the old file or the new one, never a half-written one. The temporary
file gets the usual permissions (0o666 minus the umask) before the rename: mkstemp creates it 0600,
which would make every output unreadable to other users.

JSON is always strict (RFC 8259: no NaN or Infinity). A non-finite float is written as null, on
purpose: training refuses non-finite losses (cnnlab.core.train.callbacks), so what remains are undefined
statistics, which readers treat as missing.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from cnnlab.core.errors import OutputError, write_failure
from cnnlab.core.processes import left_by_dead_process, process_tag


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is fsynced and renamed onto `path`.

    `suffix` defaults to the target's suffix, so libraries that infer the format from the name
    (matplotlib, PIL) still work.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=path.suffix if suffix is None else suffix, dir=path.parent
        )
    except OSError as exc:
        if write_failure(exc) is None:
            raise
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    tmp_path = Path(tmp)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
    finally:
        os.close(fd)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        failure = write_failure(exc)
        if failure is not None:  # a full disk: one line naming the file, not a traceback
            raise OutputError(f"cannot write {path}: {failure.strerror or failure}") from exc
        raise


def check_out_dir(path: str | os.PathLike, what: str = "--out") -> Path:
    """`path` if it is a folder or can become one, else a one-line OutputError naming `what`: it, or the
    nearest of its parents that exists, is a file or not writable. Creates nothing: commands call it
    before any work starts, so that an --out that is a file never costs a training."""
    path = Path(path)
    for existing in (path, *path.parents):
        if existing.exists() or existing.is_symlink():
            break
    else:
        return path
    if not existing.is_dir():
        where = "exists and is not a folder" if existing == path else f"cannot be made: {existing} is not a folder"
        raise OutputError(f"{what} {path} {where}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {path} cannot be written: {existing} is not writable")
    return path


_UMASK_LOCK = threading.Lock()
_FALLBACK_UMASK: list[int] = []


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux: /proc/self/status).

    Elsewhere it is read once by setting and restoring it (under a lock), then cached: os.umask cannot
    be read without briefly changing it for every thread.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        if not _FALLBACK_UMASK:
            mask = os.umask(0o022)
            os.umask(mask)
            _FALLBACK_UMASK.append(mask)
        return _FALLBACK_UMASK[0]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write `obj` as indented, strict JSON atomically (non-finite numbers as null: see the module docstring)."""
    atomic_write_text(path, json_text(obj, indent=2) + "\n")


def json_text(obj: Any, indent: int | None = None, default: Callable[[Any], Any] | None = None) -> str:
    """`obj` as strict JSON text: Paths as strings, numpy/torch scalars and arrays as numbers and lists,
    NaN and +-Infinity as null (`default` converts any other type). What every JSON cnnlab writes or
    prints goes through."""
    return json.dumps(finite_json(obj, default), indent=indent, allow_nan=False)


def finite_json(obj: Any, default: Callable[[Any], Any] | None = None) -> Any:
    """`obj` with every non-finite float replaced by None (dicts, lists and tuples walked), and
    Paths, numpy and torch values (or what `default` handles) converted to plain JSON types."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if isinstance(obj, dict):
        return {k: finite_json(v, default) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v, default) for v in obj]
    try:
        plain = _json_default(obj)
    except TypeError:
        if default is None:
            raise
        plain = default(obj)
    return finite_json(plain, default)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and getattr(obj, "ndim", 0) == 0:  # numpy / torch scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def load_json(path: str | os.PathLike) -> Any:
    """A JSON file read strictly and as untrusted input (`core.readback.load_json`): a regular file
    under the size cap, RFC 8259 (no NaN or Infinity), at most `MAX_JSON_DEPTH` deep. A missing file is
    FileNotFoundError; anything else wrong is `UntrustedData`, a ValueError."""
    from cnnlab.core import readback

    return readback.load_json(path)


def canonical_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces) for hashing."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            h.update(chunk)
    return h.hexdigest()


def short_hash(obj: Any, length: int = 12) -> str:
    """A short content hash of any JSON-able object."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:length]


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a new empty temporary folder beside `path`; on success it replaces `path`. On any exception
    the temporary folder is removed and `path` is left as it was.

    Race-free against other processes replacing the same folder: the rename onto `path` is tried; while
    another folder is there, that one is renamed aside (under a name no other process uses) and the
    rename tried again; the folders set aside are removed at the end. Temporary folders of killed
    processes (.<name>.tmp-<pid>.<host>, .<name>.old-<pid>.<host>-<n>) are removed when the next one starts,
    by the rule of `core.processes.left_by_dead_process`.
    """
    import errno
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_dirs(path)
    tag = process_tag()
    tmp = path.parent / f".{path.name}.tmp-{tag}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    aside: list[Path] = []
    try:
        yield tmp
        for attempt in range(1000):
            try:
                os.replace(tmp, path)  # atomic; fails only while a non-empty folder is there
                break
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
            old = path.parent / f".{path.name}.old-{tag}-{attempt}"
            with contextlib.suppress(FileNotFoundError):  # gone already: another process moved it aside
                os.replace(path, old)
                aside.append(old)
        else:
            raise OSError(errno.EBUSY, f"other processes keep replacing {path}")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if aside and not path.exists():
            with contextlib.suppress(OSError):
                os.replace(aside.pop(), path)  # put the older folder back
        raise
    finally:
        for old in aside:
            shutil.rmtree(old, ignore_errors=True)


def clean_stale_dirs(path: str | os.PathLike) -> int:
    """Remove the temporary folders that `atomic_dir(path)` left beside `path` when its process was killed
    (those of live processes are kept; core.processes.left_by_dead_process); returns how many were removed."""
    import re
    import shutil

    path = Path(path)
    # tmp-<tag> or old-<tag>-<n>; a tag is <pid>.<host> (host names hold no '-') or, from older versions, <pid>
    pattern = re.compile(re.escape(f".{path.name}.") + r"(?:tmp|old)-([^-]+)(?:-\d+)?")
    removed = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            match = pattern.fullmatch(entry.name)
            if match and left_by_dead_process(match.group(1), entry.path):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed += 1
    return removed


def write_csv(path: Path, rows: Sequence[dict], columns: Sequence[str] | None = None) -> Path:
    """rows as a CSV file (atomic); floats with 6 significant digits."""
    columns = list(columns or dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    atomic_write_text(path, buf.getvalue())
    return path
