"""manifest.csv of a download folder: one row per list row, in list order, written once at the end.

While a download runs, each settled row goes to a `ManifestJournal`: an anonymous temporary file in
the output folder (nothing is left behind, even after kill -9), so memory does not grow with the
list. `ManifestJournal.write` then streams the rows into manifest.csv in list order, atomically. The
durable record of a settled face is its state/<actor>/<face>.json, written as soon as it settles;
a killed run loses at most the faces in flight, and the rerun rebuilds the manifest.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import numpy as np

from cnnlab.core.errors import DataError, OutputError, write_failure
from cnnlab.core.io import atomic_path
from cnnlab.core.readback import read_text
from cnnlab.faces.facescrub.lists import FaceRow

MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = (
    "source",
    "actor",
    "image_id",
    "face_id",
    "url",
    "bbox",
    "status",
    "detail",
    "http_code",
    "attempts",
    "bytes",
    "sha256",
    "expected_sha256",
    "format",
    "width",
    "height",
    "original",
    "crop",
    "gray",
    "rgb",
    "gray_size",
    "rgb_size",
)
_REQUIRED = ("actor", "face_id", "status", "sha256", "crop", "gray", "rgb")  # what readers use
_BLOCK = 4096  # row offsets converted to Python ints per step


def manifest_row(row: FaceRow, rec: dict | None) -> dict[str, str]:
    """The manifest row of list row `row`: from its face record `rec`, or from the list alone (None)."""
    out = {k: "" for k in MANIFEST_COLUMNS}
    out.update(
        source=row.source,
        actor=row.name,
        image_id=row.image_id,
        face_id=row.face_id,
        url=row.url,
        bbox=row.bbox_text,
        expected_sha256=row.sha256,
    )
    if rec is None:
        out.update(status=row.problem or "", detail=row.detail)
    else:
        for k in MANIFEST_COLUMNS:
            if k in rec and k != "bbox":
                out[k] = "" if rec[k] is None else str(rec[k])
        out["expected_sha256"] = row.sha256
    return out


class ManifestJournal:
    """Manifest rows kept on disk in the order they settle, for `n` row indices (see module docstring)."""

    def __init__(self, folder: Path, n: int) -> None:
        self._folder = folder
        self._file = tempfile.TemporaryFile(dir=folder, prefix=f".{MANIFEST}.journal.")
        self._where = np.full(n, -1, dtype=np.int64)  # byte offset of each row index's entry; -1: none

    def __enter__(self) -> ManifestJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._file.close()  # flushes: a full disk may strike here too
        except OSError as err:
            if exc[0] is None:  # else the error in flight (often the same full disk) is the one to report
                raise self._failed(err) from None

    def add(self, idx: int, row: dict[str, str]) -> None:
        """Record the manifest row of row index `idx` (one JSON line: no field can break it)."""
        self._where[idx] = self._file.tell()
        try:
            self._file.write(json.dumps([row[c] for c in MANIFEST_COLUMNS]).encode("ascii") + b"\n")
        except OSError as exc:
            raise self._failed(exc) from None

    def _failed(self, exc: OSError) -> OSError:
        """A full disk as one line naming the journal's folder (an OutputError); other errors as they are."""
        if write_failure(exc) is None:
            return exc
        return OutputError(f"cannot write the manifest journal in {self._folder}: {exc.strerror or exc}")

    def write(self, path: Path) -> int:
        """Write the recorded rows to `path` as CSV, in row-index order, atomically; returns the row count."""
        f, count = self._file, 0
        try:
            f.flush()
        except OSError as exc:
            raise self._failed(exc) from None
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(MANIFEST_COLUMNS)
            for start in range(0, len(self._where), _BLOCK):
                for where in self._where[start : start + _BLOCK].tolist():
                    if where >= 0:
                        f.seek(where)
                        writer.writerow(json.loads(f.readline()))
                        count += 1
        return count


def read_manifest(folder: str | Path) -> list[dict[str, str]]:
    """Rows of `folder`/manifest.csv (made by `cnnlab faces download`), read as untrusted input: a regular
    UTF-8 file of at most MAX_BYTES["text"], every row with exactly the header's fields. DataError (one line
    naming the file and line) if absent or malformed; paths in it are checked where they are used."""
    path = Path(folder) / MANIFEST
    try:
        text = read_text(path, str(path))
    except FileNotFoundError:
        raise DataError(f"no {MANIFEST} in {folder} (make one with `cnnlab faces download`)") from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[dict[str, str]] = []
    try:
        header = next(reader, None) or []
        missing = [c for c in _REQUIRED if c not in header]
        if missing:
            raise DataError(f"{path} is not a cnnlab faces manifest (missing column(s) {', '.join(missing)})")
        for fields in reader:
            if not fields:  # a blank line
                continue
            if len(fields) != len(header):
                raise DataError(
                    f"{path}:{reader.line_num}: {len(fields)} field(s), expected {len(header)} (a row cut short?)"
                )
            rows.append(dict(zip(header, fields)))
    except csv.Error as exc:  # a field over csv's limit, a NUL byte, an unclosed quote
        raise DataError(f"{path}:{reader.line_num}: not a manifest row ({exc})") from None
    return rows
