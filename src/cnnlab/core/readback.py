"""The one reading layer: everything read back from disk is untrusted input.

Manifests, caches, run folders, studies and configs may have been written by cnnlab, by a user or by
another host, and may since have been cut short, replaced by a FIFO or a link to /dev/zero, or crafted.
Every reader goes through these functions, which check, before anything large is allocated:

- regular files only (a FIFO, device or socket is refused without being opened for a blocking read);
- a size cap per kind of file (`MAX_BYTES`);
- paths kept inside their folder (`inside`);
- checkpoints: a readable zip archive, as torch.save writes (`checkpoint_file`);
- JSON depth (`MAX_JSON_DEPTH`) and strictness (no NaN or Infinity);
- `.npy` arrays: header read first, shape and dtype checked against what the caller expects.

A problem raises `UntrustedData`, a one-line `DataError` (and a ValueError, so readers that already
tolerate malformed JSON tolerate these too). Callers decide: a damaged cache is rebuilt with one
warning; a bad user-given file is one line and exit status 2.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

from cnnlab.core.errors import DataError

MAX_JSON_DEPTH = 64  # far deeper than anything cnnlab writes; Python's parser itself recurses

# Size caps per kind of file (bytes). Generous for what cnnlab writes, small against /dev/zero.
MAX_BYTES = {
    "json": 64 << 20,  # run documents, suite and sweep indexes, configs
    "text": 256 << 20,  # manifests, list files, metrics.jsonl, journals
    "array": 4 << 30,  # cached feature arrays
    "checkpoint": 2 << 30,  # model.pt (AlexNet fine-tuned is about 230 MB)
}


class UntrustedData(DataError, ValueError):
    """A file read back that is not what its reader expects: one line naming the file and the problem."""


def regular_file(path: str | os.PathLike, what: str | None = None) -> Path:
    """`path` when it names a regular file (symbolic links followed); else UntrustedData naming `what`.

    A missing file raises FileNotFoundError, as open() would, so that "missing" and "damaged" stay
    distinct for callers that treat them differently.
    """
    path = Path(path)
    mode = path.stat().st_mode  # FileNotFoundError passes through
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, device or socket)"
        raise UntrustedData(f"{what or path} is {kind}")
    return path


def read_bytes(path: str | os.PathLike, what: str | None = None, max_bytes: int = MAX_BYTES["json"]) -> bytes:
    """The bytes of a regular file of at most `max_bytes`; UntrustedData otherwise.

    Opened non-blocking and checked with fstat on the open descriptor, so a FIFO swapped in after a
    check never blocks, and a file that grows while read (/dev/zero through a link) stops at the cap.
    """
    label = what or str(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file (a FIFO, device or socket)"
            raise UntrustedData(f"{label} is {kind}")
        if info.st_size > max_bytes:
            raise UntrustedData(f"{label} is {info.st_size:,} bytes, over the limit of {max_bytes:,}")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise UntrustedData(f"{label} grows past the limit of {max_bytes:,} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(path: str | os.PathLike, what: str | None = None, max_bytes: int = MAX_BYTES["text"]) -> str:
    """A UTF-8 text file read through `read_bytes`; bad UTF-8 is UntrustedData naming the line."""
    data = read_bytes(path, what, max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UntrustedData(f"{what or path} is not UTF-8 text (line {line}, byte {exc.start})") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is out of range")
    return value


def json_depth(obj: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """The nesting depth of a parsed JSON value (a scalar is 0), counted without recursion; stops
    counting past `limit`."""
    deepest, stack = 0, [(obj, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            stack.extend((child, depth) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def parse_json(text: str | bytes, what: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Strict JSON (RFC 8259: no NaN, Infinity or numbers beyond the float range) nested at most
    `max_depth` deep; UntrustedData otherwise."""
    try:
        doc = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise UntrustedData(f"{what} is nested too deeply to be JSON that cnnlab reads") from None
    except UnicodeDecodeError as exc:
        raise UntrustedData(f"{what} is not UTF-8 text (byte {exc.start})") from None
    except ValueError as exc:  # json.JSONDecodeError included
        raise UntrustedData(f"{what} is not valid JSON: {str(exc).splitlines()[0][:120]}") from None
    if json_depth(doc, max_depth) > max_depth:
        raise UntrustedData(f"{what} is nested more than {max_depth} levels deep")
    return doc


def load_json(
    path: str | os.PathLike,
    what: str | None = None,
    max_bytes: int = MAX_BYTES["json"],
    max_depth: int = MAX_JSON_DEPTH,
) -> Any:
    """A JSON file read as untrusted input: a regular file of at most `max_bytes`, strict and at most
    `max_depth` deep. A missing file is FileNotFoundError; anything else wrong is UntrustedData."""
    label = what or str(path)
    return parse_json(read_bytes(path, label, max_bytes), label, max_depth)


def checkpoint_file(path: str | os.PathLike, what: str | None = None, max_bytes: int = MAX_BYTES["checkpoint"]) -> Path:
    """`path` when it names a checkpoint that torch.load can open: a regular file under the cap holding a
    readable zip archive (what torch.save writes); a file cut short loses the zip's central directory, at
    its end. UntrustedData otherwise (FileNotFoundError when missing). Nothing is unpickled here."""
    import zipfile

    label = what or str(path)
    path = regular_file(path, label)
    size = path.stat().st_size
    if size > max_bytes:
        raise UntrustedData(f"{label} is {size:,} bytes, over the limit of {max_bytes:,}")
    try:
        with zipfile.ZipFile(path) as archive:
            if not archive.namelist():
                raise zipfile.BadZipFile("it is empty")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise UntrustedData(
            f"{label} is not a readable checkpoint (cut short or not written by torch.save: {exc})"
        ) from None
    return path


def load_jsonl(
    path: str | os.PathLike,
    what: str | None = None,
    max_bytes: int = MAX_BYTES["text"],
    max_depth: int = MAX_JSON_DEPTH,
) -> list[Any]:
    """A JSON-lines file (metrics.jsonl) read as untrusted input: a regular file under the cap, one strict JSON
    value per non-blank line, each at most `max_depth` deep; UntrustedData naming the line otherwise."""
    label = what or str(path)
    text = read_text(path, label, max_bytes)
    return [
        parse_json(line, f"{label} line {n}", max_depth) for n, line in enumerate(text.split("\n"), 1) if line.strip()
    ]


def inside(root: str | os.PathLike, relative: str | os.PathLike, what: str | None = None) -> Path:
    """`root / relative`, refused (UntrustedData) when `relative` is absolute or leads out of `root`
    (through `..` or a symbolic link)."""
    rel = Path(relative)
    label = what or str(relative)
    if rel.is_absolute() or not str(relative).strip():
        raise UntrustedData(f"{label}: the path {str(relative)[:80]!r} must be relative to {root}")
    base = Path(root).resolve()
    target = (base / rel).resolve()
    if target != base and base not in target.parents:
        raise UntrustedData(f"{label}: the path {str(relative)[:80]!r} leads outside {root}")
    return target


def npy_header(path: str | os.PathLike, what: str | None = None) -> tuple[tuple[int, ...], Any, bool]:
    """The (shape, dtype, fortran_order) of a `.npy` file, read from its header alone (nothing of the
    array is allocated); UntrustedData for a file that is not a plain `.npy` array (an `.npz`, a pickle,
    object dtype, a header whose size disagrees with the file's)."""
    import numpy as np

    label = what or str(path)
    path = regular_file(path, label)
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"unsupported .npy version {version}")
            offset = f.tell()
    except (ValueError, OSError, SyntaxError) as exc:
        raise UntrustedData(f"{label} is not a .npy array ({str(exc).splitlines()[0][:100]})") from None
    if dtype.hasobject:
        raise UntrustedData(f"{label} holds Python objects, not numbers")
    expected = offset + math.prod(shape) * dtype.itemsize
    size = path.stat().st_size
    if size != expected:
        raise UntrustedData(f"{label}: its header promises {expected:,} bytes but the file has {size:,}")
    return tuple(shape), dtype, fortran


def load_array(
    path: str | os.PathLike,
    what: str | None = None,
    shape: tuple[int | None, ...] | None = None,
    dtype: Any = None,
    finite: bool = True,
    max_bytes: int = MAX_BYTES["array"],
) -> Any:
    """A `.npy` array read as untrusted input: its header checked first (size cap, `shape` with None for
    any length, `dtype`), then loaded without pickles and, with `finite`, checked for NaN and Inf."""
    import numpy as np

    label = what or str(path)
    got_shape, got_dtype, _ = npy_header(path, label)
    nbytes = math.prod(got_shape) * got_dtype.itemsize
    if nbytes > max_bytes:
        raise UntrustedData(f"{label} holds {nbytes:,} bytes, over the limit of {max_bytes:,}")
    if shape is not None and (
        len(got_shape) != len(shape) or any(want is not None and want != got for want, got in zip(shape, got_shape))
    ):
        want = "x".join("N" if s is None else str(s) for s in shape)
        raise UntrustedData(f"{label} has shape {got_shape}, expected {want}")
    if dtype is not None and got_dtype != np.dtype(dtype):
        raise UntrustedData(f"{label} has dtype {got_dtype}, expected {np.dtype(dtype)}")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise UntrustedData(f"{label} is unreadable ({str(exc).splitlines()[0][:100]})") from None
    if finite and np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise UntrustedData(f"{label} holds NaN or infinite values")
    return array
