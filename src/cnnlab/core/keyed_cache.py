"""Keyed JSON caches in a runs folder: a pure recomputation (an evaluation of finished runs, numbers a
figure is drawn from) stored under a key that names exactly what determines it.

A cache file <folder>/<digest>.json holds {"key": key, "value": value}; the digest is the SHA-256 of the
key's canonical JSON, so different inputs get different files and a rerun with the same inputs finds its
own. The file is read back through `core.readback` (a regular file under the size cap, strict JSON) and
its stored key must equal the key asked for, and its value pass the caller's check: a damaged, foreign or
mismatched file is never trusted; it costs one warning and is computed again and replaced. Writes are
atomic; a cache that cannot be written only costs time (one warning).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from cnnlab.core.io import atomic_write_json, canonical_json, sha256_bytes
from cnnlab.core.readback import UntrustedData, load_json

log = logging.getLogger(__name__)
T = TypeVar("T")
Check = Callable[[Any], "str | None"]  # the value read back -> None when usable, else the problem in words


def key_path(folder: str | os.PathLike, key: Mapping[str, Any]) -> Path:
    """The cache file of `key` in `folder`: <folder>/<first 24 hex digits of the key's SHA-256>.json."""
    return Path(folder) / f"{sha256_bytes(canonical_json(key).encode())[:24]}.json"


def read_cached(path: str | os.PathLike, key: Mapping[str, Any], what: str, check: Check) -> Any | None:
    """The value cached at `path` for `key`; None when there is none (silently) or when the file is damaged,
    was made for another key or holds a value `check` refuses (one warning: the caller computes it again)."""
    path = Path(path)
    if not os.path.lexists(path):
        return None
    try:
        doc = load_json(path, f"{what} {path}")
        if not isinstance(doc, dict) or set(doc) != {"key", "value"}:
            raise UntrustedData(f"{what} {path} is not a cache record (an object with a key and a value)")
        if doc["key"] != json.loads(canonical_json(key)):  # the key as JSON stores it (tuples as lists)
            raise UntrustedData(f"{what} {path} was made for other inputs")
        problem = check(doc["value"])
        if problem is not None:
            raise UntrustedData(f"{what} {path}: {problem}")
    except FileNotFoundError:  # a link to nothing
        log.warning("%s %s is a broken link: computing it again", what, path)
        return None
    except (UntrustedData, OSError) as exc:
        log.warning("ignoring the damaged %s (%s): computing it again", what, exc)
        return None
    log.info("%s hit: %s", what, path)
    return doc["value"]


def write_cached(path: str | os.PathLike, key: Mapping[str, Any], value: Any, what: str) -> None:
    """{"key": key, "value": value} to `path`, atomically (replacing whatever stood there, a FIFO or a link
    included); a failed write only logs one warning: the value is computed again next time. A folder in the
    way is left alone, without a second warning (reading it already gave one)."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        log.info("the %s %s is a folder: not written", what, path)
        return
    try:
        atomic_write_json(path, {"key": key, "value": value})
    except OSError as exc:  # OutputError (a full disk, a read-only folder) is an OSError too
        log.warning("could not write the %s %s (%s): continuing without it", what, path, exc)


def cached(folder: str | os.PathLike, key: Mapping[str, Any], compute: Callable[[], T], what: str, check: Check) -> T:
    """The value of `compute()` for `key`, read from <folder>/<digest>.json when a usable one is there,
    else computed and written there (`read_cached`, `write_cached`)."""
    path = key_path(folder, key)
    value = read_cached(path, key, what, check)
    if value is None:
        value = compute()
        write_cached(path, key, value, what)
    return value
