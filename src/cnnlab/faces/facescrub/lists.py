"""FaceScrub list files: parsing, row validation and safe file names.

A list file has one face per line, tab-separated: name, image_id, face_id, url, bbox "x1,y1,x2,y2",
sha256 (of the downloaded bytes). The files we have carry no header; a header line naming these
columns (in any order) is accepted. Real list files are sometimes cut short (the last line of the
course's facescrub_actresses.txt has 4 fields): such lines are not fatal, they become `bad_line`
rows with the reason, so nothing is skipped silently. How a file is read (regular files only, UTF-8
or UTF-16 with a byte-order mark, lines split at "\n" only) is in `cnnlab.faces.facescrub.listfile`; lists of
any length are planned in bounded memory by `cnnlab.faces.facescrub.plan`.

Nothing from a list is trusted for paths: `safe_name` turns names and face ids into plain file names.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cnnlab.core.errors import DataError
from cnnlab.core.images import display_name
from cnnlab.faces.facescrub.listfile import ListFile

log = logging.getLogger(__name__)

COLUMNS = ("name", "image_id", "face_id", "url", "bbox", "sha256")
_SHA_RE = re.compile(r"[0-9a-fA-F]{64}")
_BBOX_RE = re.compile(r"\s*(-?\d+)\s*,\s*(-?\d+)\s*,\s*(-?\d+)\s*,\s*(-?\d+)\s*")
_UNSAFE_RE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 80
# The longest field a list row may have (URLs included; FaceScrub's are under 1,000 characters): longer ones
# make the row a bad_line, clipped, so the manifest written from a list never holds a field that csv (131,072
# characters) or a reader of it refuses.
MAX_FIELD_CHARS = 8192
_LOGGED_BAD_LINES = 10  # then one line with the count


def name_key(name: str) -> str:
    """Case-insensitive matching key for actor names ("alec_baldwin" == "Alec Baldwin")."""
    return display_name(name).casefold()


def safe_name(text: str) -> str:
    """A file name made only of [A-Za-z0-9._-], never empty, never starting with a dot.

    If anything had to be changed beyond spaces -> underscores, a short hash of the original text is
    appended, so two different names never map to the same file ("../x" -> "x-1a2b3c4d").
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = _UNSAFE_RE.sub("_", ascii_text).strip("._-")[:_MAX_NAME]
    if cleaned != text.strip().replace(" ", "_") or not cleaned:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        cleaned = f"{cleaned or 'x'}-{digest}"
    return cleaned


@functools.lru_cache(maxsize=1024)  # an actor's name comes back on each of their rows; FaceScrub has 530
def _actor_dir(name: str) -> str:
    return safe_name(name.replace(" ", "_")) if name else "unknown"


@dataclass(frozen=True)
class FaceRow:
    """One line of a list file. `problem` is a status found without any network access, or None."""

    source: str  # "file.txt:12", for messages and the manifest
    name: str  # display name (see `display_name`)
    image_id: str
    face_id: str
    url: str
    bbox_text: str
    sha256: str  # lower-case hex as given
    bbox: tuple[int, int, int, int] | None  # (x1, y1, x2, y2); None when malformed
    problem: str | None = None  # bad_line, bad_bbox, bad_sha256, bad_url, duplicate
    detail: str = ""

    @property
    def actor_dir(self) -> str:
        return _actor_dir(self.name)

    @property
    def face_file(self) -> str:
        return safe_name(self.face_id) if self.face_id else "unknown"

    @property
    def key(self) -> str:
        """Unique id of a face inside an output folder: "<actor_dir>/<face_file>"."""
        return f"{self.actor_dir}/{self.face_file}"

    def same_face(self, other: FaceRow) -> bool:
        return (self.url, self.bbox_text, self.sha256) == (other.url, other.bbox_text, other.sha256)


@dataclass(frozen=True)
class ParsedList:
    path: Path
    rows: tuple[FaceRow, ...]  # every non-blank, non-header line, bad lines included

    @property
    def bad_lines(self) -> list[FaceRow]:
        return [r for r in self.rows if r.problem == "bad_line"]


def parse_bbox(text: str) -> tuple[int, int, int, int] | None:
    m = _BBOX_RE.fullmatch(text)
    return tuple(int(v) for v in m.groups()) if m else None  # type: ignore[return-value]


def check_url(url: str) -> str | None:
    """Why `url` cannot be fetched (a one-line reason), or None if it looks like an http(s) URL."""
    if not url or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return "empty URL or URL with whitespace/control characters"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        return f"malformed URL ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return f"unsupported URL scheme {parts.scheme!r} (only http and https)"
    if not parts.hostname:
        return "URL has no host"
    if port == 0:
        return "URL has port 0"
    return None


def _header_map(fields: list[str]) -> dict[str, int] | None:
    """Column positions if `fields` is a header line, else None."""
    names = [f.strip().lower().replace(" ", "_") for f in fields]
    if "name" not in names or "url" not in names:
        return None
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise DataError(f"list header lacks column(s) {', '.join(missing)}")
    return {c: names.index(c) for c in COLUMNS}


class ListRows:
    """The rows of one list file, streamed: iterate for (line, byte offset, FaceRow); `row_at` reads one again.

    Blank lines and a header line are skipped; `bad_line` rows are logged (the first few). Raises
    DataError at the end of the file if it had no valid row.
    """

    def __init__(self, path: str | Path) -> None:
        self.file = ListFile(path)
        self.path = self.file.path
        self.columns = {c: i for i, c in enumerate(COLUMNS)}
        self._logged = False

    def close(self) -> None:
        self.file.close()

    def __iter__(self) -> Iterator[tuple[int, int, FaceRow]]:
        """(line number, byte offset, row) for each row, in file order."""
        first, good, bad = True, 0, 0
        quiet, self._logged = self._logged, True  # a second pass logs nothing again
        for lineno, offset, line in self.file.lines():
            if not line.strip():
                continue
            fields = line.split("\t")
            if first:
                first = False
                header = _header_map(fields)
                if header is not None:
                    self.columns = header
                    continue
            row = _parse_fields(fields, self.columns, f"{self.file.name}:{lineno}")
            if row.problem == "bad_line":
                bad += 1
                if bad <= _LOGGED_BAD_LINES and not quiet:
                    log.warning("%s: %s", row.source, row.detail)
            else:
                good += 1
            yield lineno, offset, row
        if not good:
            raise DataError(f"{self.path}: no valid FaceScrub row (expected 6 tab-separated fields per line)")
        if bad > _LOGGED_BAD_LINES and not quiet:
            log.warning("%s: %d more bad lines", self.path, bad - _LOGGED_BAD_LINES)

    def row_at(self, offset: int, lineno: int) -> FaceRow:
        """The row of the line at byte `offset` (line number `lineno`), parsed as during iteration."""
        return _parse_fields(self.file.line_at(offset).split("\t"), self.columns, f"{self.file.name}:{lineno}")


def parse_list(path: str | Path) -> ParsedList:
    """Parse one FaceScrub list file (see module docstring) into memory. DataError if it has no valid row."""
    reader = ListRows(path)
    try:
        rows = tuple(row for _lineno, _offset, row in reader)
    finally:
        reader.close()
    return ParsedList(path=reader.path, rows=rows)


def _bad_line(fields: list[str], columns: dict[str, int], source: str, problem: str) -> FaceRow:
    """A bad_line row keeping what can be read of `fields` (each clipped to MAX_FIELD_CHARS), with `problem`."""
    get = lambda c: fields[columns[c]].strip()[:MAX_FIELD_CHARS] if columns[c] < len(fields) else ""  # noqa: E731
    return FaceRow(
        source,
        display_name(get("name")),
        get("image_id"),
        get("face_id"),
        get("url"),
        get("bbox"),
        get("sha256").lower(),
        None,
        "bad_line",
        problem,
    )


def _parse_fields(fields: list[str], columns: dict[str, int], source: str) -> FaceRow:
    longest = max(range(len(fields)), key=lambda i: len(fields[i]), default=0)
    if fields and len(fields[longest]) > MAX_FIELD_CHARS:
        column = next((c for c, i in columns.items() if i == longest), f"field {longest + 1}")
        return _bad_line(
            fields,
            columns,
            source,
            f"the {column} has {len(fields[longest]):,} characters, over the limit of {MAX_FIELD_CHARS:,}",
        )
    if len(fields) != len(COLUMNS):
        hint = " (truncated list file?)" if len(fields) < len(COLUMNS) else ""
        return _bad_line(
            fields, columns, source, f"expected {len(COLUMNS)} tab-separated fields, got {len(fields)}{hint}"
        )
    v = {c: fields[i].strip() for c, i in columns.items()}
    name, face_id = display_name(v["name"]), v["face_id"]
    bbox = parse_bbox(v["bbox"])
    problem = detail = None
    if not name or not face_id:
        problem, detail = "bad_line", "empty name or face_id"
    elif bbox is None:
        problem, detail = "bad_bbox", f"bbox {v['bbox']!r} is not x1,y1,x2,y2 integers"
    elif not _SHA_RE.fullmatch(v["sha256"]):
        problem, detail = "bad_sha256", f"sha256 {v['sha256'][:80]!r} is not 64 hex digits"
    else:
        reason = check_url(v["url"])
        if reason:
            problem, detail = "bad_url", reason
    return FaceRow(
        source, name, v["image_id"], face_id, v["url"], v["bbox"], v["sha256"].lower(), bbox, problem, detail or ""
    )
