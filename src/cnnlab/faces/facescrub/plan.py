"""The rows of FaceScrub list files as a compact plan: lists of any length in bounded memory.

`plan_lists` reads the lists once and keeps a few numbers per row (byte offset, line number, kind,
the row claiming the same face, the next row with the same URL: 21 bytes), instead of a Python
object per row (~5 KB). Rows are parsed again from the files when needed, in list order (`rows`,
`work`). The selection rules (also those of `parse_lists`):

- `actors` keeps a subset of names (case-insensitive; unknown names -> DataError);
- one spelling per actor (the first seen), so names differing in case share one folder;
- identical duplicate rows (same face in two lists) are kept once; a second, different row for the
  same face id of the same actor becomes a `duplicate` row, so no face is overwritten;
- rows with a problem claim no face id.

Faces and URLs are matched by 64-bit hashes first (Python's `hash`), then checked on the real
text, so a hash collision costs one extra read, never a wrong answer.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from cnnlab.core.errors import DataError
from cnnlab.faces.facescrub.lists import FaceRow, ListRows, name_key

log = logging.getLogger(__name__)

# kinds of rows
KEEP = 0  # a face to settle; the first row of its URL
MEMBER = 1  # a face to settle, with an earlier row of the same URL (settled with it)
PROBLEM = 2  # settled from the list alone (bad_line, bad_bbox, bad_sha256, bad_url)
DROPPED = 3  # identical to an earlier row: left out
DUPLICATE = 4  # same face id as an earlier row, other data: a `duplicate` row
_FILE_SHIFT = 40  # loc = file index << 40 | byte offset (lists are capped at 1 GiB)


class ListPlan:
    """The kept rows of some list files (see module docstring). Close it (or use `with`) when done."""

    def __init__(
        self,
        readers: list[ListRows],
        wanted: dict[str, str] | None,
        spelling: dict[str, str],
        loc: np.ndarray,
        lineno: np.ndarray,
        kind: np.ndarray,
        claim: np.ndarray,
        nxt: np.ndarray,
    ) -> None:
        self._readers, self._wanted, self._spelling = readers, wanted, spelling
        self._loc, self._lineno, self._kind, self._claim, self._next = loc, lineno, kind, claim, nxt
        counts = np.bincount(kind, minlength=5)
        self.n_rows = len(kind) - int(counts[DROPPED])  # rows of the manifest
        self.n_faces = int(counts[KEEP] + counts[MEMBER])  # rows that need a local check or a fetch
        self.n_urls = int(counts[KEEP])

    def __len__(self) -> int:
        return len(self._kind)  # row indices run over range(len(plan)); dropped ones included

    def __enter__(self) -> ListPlan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for r in self._readers:
            r.close()

    def rows(self) -> Iterator[tuple[int, FaceRow]]:
        """(row index, row) for every row of the manifest, in list order."""
        for idx, row in self._ordered():
            kind, row = self._resolve(idx, row)
            if kind != DROPPED:
                yield idx, row

    def work(self) -> Iterator[list[tuple[int, FaceRow]]]:
        """Units of work in list order of their first row: a row with a problem alone (nothing to
        fetch), or all the rows of one URL (fetched once); later rows of a URL are read back by offset."""
        for idx, row in self._ordered():
            kind, row = self._resolve(idx, row)
            if kind in (DROPPED, MEMBER):
                continue
            if kind != KEEP:
                yield [(idx, row)]
                continue
            group = [(idx, row)]
            j = int(self._next[idx])
            while j >= 0:
                group.append((j, self._row(j)))
                j = int(self._next[j])
            for url in dict.fromkeys(r.url for _i, r in group):  # one URL unless two URL hashes collided
                yield [(i, r) for i, r in group if r.url == url]

    # ------------------------------------------------------------------------- internals
    def _ordered(self) -> Iterator[tuple[int, FaceRow]]:
        """Every planned row, re-read sequentially; DataError if a file changed since it was planned."""
        for r in self._readers:
            r.file.check_unchanged()
        n = len(self._kind)
        idx = -1
        for idx, (fi, _lineno, offset, row) in enumerate(_kept(self._readers, self._wanted, set(), self._spelling)):
            if idx >= n or self._loc[idx] != (fi << _FILE_SHIFT | offset):
                raise DataError(f"list file {self._readers[fi].path} changed while it was being read")
            yield idx, row
        if idx + 1 != n:
            raise DataError("a list file changed while it was being read")

    def _row(self, idx: int) -> FaceRow:
        loc = int(self._loc[idx])
        row = self._readers[loc >> _FILE_SHIFT].row_at(loc & ((1 << _FILE_SHIFT) - 1), int(self._lineno[idx]))
        name = self._spelling.get(name_key(row.name), row.name)
        return row if name == row.name else replace(row, name=name)

    def _resolve(self, idx: int, row: FaceRow) -> tuple[int, FaceRow]:
        """The row's kind, checked against the row it was matched with, and the row to report."""
        kind = int(self._kind[idx])
        if kind not in (DROPPED, DUPLICATE):
            return kind, row
        prev = self._row(int(self._claim[idx]))
        if prev.key != row.key:  # 64-bit collision of two face keys: not a duplicate after all
            return KEEP, row
        if prev.same_face(row):
            return DROPPED, row
        return DUPLICATE, replace(
            row, problem="duplicate", detail=f"face id already used by {prev.source} with other data"
        )


def _kept(
    readers: Sequence[ListRows], wanted: dict[str, str] | None, found: set[str], spelling: dict[str, str]
) -> Iterator[tuple[int, int, int, FaceRow]]:
    """(file index, line number, byte offset, row) of the rows the actor selection keeps, each with its
    actor's first spelling; `found` collects the selected names met, `spelling` the spellings."""
    for fi, reader in enumerate(readers):
        for lineno, offset, row in reader:
            key = name_key(row.name)
            if wanted is not None:
                if key not in wanted:
                    continue
                found.add(key)
            name = spelling.setdefault(key, row.name)
            yield fi, lineno, offset, (row if name == row.name else replace(row, name=name))


def plan_lists(paths: Sequence[str | Path], actors: Iterable[str] | str | None = None) -> ListPlan:
    """Read `paths` once (DataError for a bad file or an unknown actor) and plan their rows."""
    if not paths:
        raise DataError("no list file given")
    wanted = None
    if actors is not None:
        wanted = {name_key(a): a for a in ([actors] if isinstance(actors, str) else actors) if a.strip()}
        if not wanted:
            raise DataError("empty actor selection")
    readers: list[ListRows] = []
    try:
        readers.extend(ListRows(p) for p in paths)  # every file is checked before any is read
        found: set[str] = set()
        spelling: dict[str, str] = {}
        loc, lineno, kind = array("q"), array("I"), bytearray()
        keys, data, urls = array("q"), array("q"), array("q")  # hashes, freed once planned
        for fi, line, offset, row in _kept(readers, wanted, found, spelling):
            loc.append(fi << _FILE_SHIFT | offset)
            lineno.append(line)
            if row.problem is None:
                kind.append(KEEP)
                keys.append(hash(row.key))
                data.append(hash((row.url, row.bbox_text, row.sha256)))
                urls.append(hash(row.url))
            else:
                kind.append(PROBLEM)
                keys.append(0)
                data.append(0)
                urls.append(0)
        if wanted is not None and (unknown := [a for k, a in wanted.items() if k not in found]):
            raise DataError(f"actor(s) not in the list files: {', '.join(unknown)}")
        kinds = np.frombuffer(kind, dtype=np.uint8)
        claim = _dedupe(kinds, np.frombuffer(keys, np.int64), np.frombuffer(data, np.int64))
        nxt = _link_urls(kinds, np.frombuffer(urls, np.int64))
        plan = ListPlan(
            readers,
            wanted,
            spelling,
            np.frombuffer(loc, np.int64),
            np.frombuffer(lineno, np.dtype(f"u{lineno.itemsize}")),
            kinds,
            claim,
            nxt,
        )
    except BaseException:
        for r in readers:
            r.close()
        raise
    if dropped := int(np.count_nonzero(kinds == DROPPED)):
        log.info("ignored %d identical duplicate row(s)", dropped)
    return plan


def _dedupe(kind: np.ndarray, keys: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Mark later rows of a face key DROPPED (same data) or DUPLICATE; returns the claiming row per row."""
    claim = np.full(len(kind), -1, dtype=np.int32)
    cand = np.flatnonzero(kind == KEEP)
    order = cand[np.argsort(keys[cand], kind="stable")]  # stable: equal keys stay in list order
    k = keys[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = k[1:] != k[:-1]
    claimant = order[np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))]
    later, by = order[~first], claimant[~first]
    same = data[later] == data[by]
    kind[later[same]] = DROPPED
    kind[later[~same]] = DUPLICATE
    claim[later] = by
    return claim


def _link_urls(kind: np.ndarray, urls: np.ndarray) -> np.ndarray:
    """Chain the rows to settle that share a URL: next row of the same URL per row (-1: none); the
    first row of each URL stays KEEP, the others become MEMBER."""
    nxt = np.full(len(kind), -1, dtype=np.int32)
    live = np.flatnonzero(kind == KEEP)
    order = live[np.argsort(urls[live], kind="stable")]
    u = urls[order]
    same = u[1:] == u[:-1]
    nxt[order[:-1][same]] = order[1:][same]
    kind[order[1:][same]] = MEMBER
    return nxt


def parse_lists(paths: Sequence[str | Path], actors: Iterable[str] | str | None = None) -> list[FaceRow]:
    """Parse several lists into memory, with the selection rules of the module docstring."""
    with plan_lists(paths, actors) as plan:
        return [row for _idx, row in plan.rows()]
