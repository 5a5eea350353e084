"""The catalogue of run folders behind `cnnlab runs`: read, classify, filter, sort, show and diff runs.

It reads only each run folder's config.json and summary.json (no torch, no numpy: a few thousand
folders in about a second), plus the indexes that say what a run belongs to:

  <root>/suites/*/suite.json   written by every experiment suite: `rows[].run_ids` are suite members;
                               the search suite's `trials[].run_id` are sweep trials
  <root>/sweeps/<study>.json   written by `cnnlab sweep` (`sweep_index_path`): its trials' run ids

Kinds: a Part 1 CNN run shows as "run" (trained alone), "suite" (a suite member) or "trial" (a sweep trial;
both: "suite", matching `--kind trial` too); any other run as its run kind, registered by its part in
core.runs.kinds.RUN_KINDS (`kinds()`; core names none). A folder that cannot be read is listed with its
status ("half-written": a temporary folder of a run still being written or killed; "incomplete": no
summary.json; "unreadable": a file that is not valid JSON or cannot be opened), never an exception.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnlab.core.config import flatten
from cnnlab.core.errors import CnnlabError, clip, shorten
from cnnlab.core.io import load_json
from cnnlab.core.runs.kinds import RUN_KINDS
from cnnlab.core.runs.validity import SUMMARY, documents_problem

log = logging.getLogger(__name__)

__all__ = [
    "RunRow",
    "COLUMNS",
    "list_runs",
    "filter_runs",
    "sort_runs",
    "find_run",
    "sweep_index_path",
    "parse_where",
]

ROW_KINDS = ("run", "suite", "trial")  # what a Part 1 CNN run shows as (see the module docstring)
COLUMNS = ("run_id", "kind", "data", "seed", "epochs", "train_acc", "val_acc", "test_acc", "seconds", "when")
_RUN_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*-[0-9a-f]{12}$")  # <kind>-<short hash>, see core.runs.run_id
_STAGING_PREFIX = ".tmp-tensorboard-"  # live TensorBoard staging (core.tensorboard), not a run
_PART1_KIND = "cnn"


def kinds() -> tuple[str, ...]:
    """What `--kind` takes: ROW_KINDS, cnn (every Part 1 CNN run), then each other run kind registered so far."""
    return ROW_KINDS + (_PART1_KIND,) + tuple(name for name in RUN_KINDS.names() if name != _PART1_KIND)


@dataclass
class RunRow:
    """One row of the table: a run folder, what it is, its headline numbers, or why it cannot be read."""

    path: Path
    run_id: str
    status: str = "ok"  # ok, half-written, incomplete, unreadable
    problem: str = ""
    kind: str = ""  # one of ROW_KINDS, else the run kind
    run_kind: str = ""  # summary.json's kind (cnn, colour-only, each Part 2 kind, ...)
    suites: tuple[str, ...] = ()
    studies: tuple[str, ...] = ()
    data: str = ""
    seed: int | None = None
    epochs: int | None = None
    train_acc: float | None = None
    val_acc: float | None = None
    test_acc: float | None = None
    seconds: float | None = None  # training time (summary's train_seconds)
    when: float | None = None  # POSIX time summary.json was written
    meta: dict = field(default_factory=dict, repr=False)  # config.json
    summary: dict = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def value(self, key: str) -> Any:
        """A column (id, kind, data, ...), else `lookup(key)`: what --sort uses."""
        key = "run_id" if key == "id" else key
        if key in COLUMNS or key in ("status", "path", "suites", "studies"):
            return getattr(self, key)
        return self.lookup(key)

    def lookup(self, key: str) -> Any:
        """A dotted key of the resolved config, else of config.json (kind, seed, data.name), else of
        summary.json, else a column: what --where uses. None when absent."""
        for source in (self.meta.get("config") or {}, self.meta, self.summary):
            flat = flatten(source) if isinstance(source, Mapping) else {}
            if key in flat:
                return flat[key]
        key = "run_id" if key == "id" else key
        return getattr(self, key) if key in COLUMNS else None

    def to_dict(self) -> dict:
        """The row as JSON: every column plus status, suites, studies and the folder."""
        out = {c: getattr(self, c) for c in COLUMNS}
        out["when"] = iso_time(self.when)
        out.update(
            status=self.status,
            problem=self.problem,
            run_kind=self.run_kind,
            suites=list(self.suites),
            studies=list(self.studies),
            path=str(self.path),
        )
        return out


# ----------------------------------------------------------------------------- reading
def sweep_index_path(root: str | os.PathLike, study: str) -> Path:
    """Where `cnnlab sweep` records its trials' run ids: <root>/sweeps/<study>.json."""
    return Path(root) / "sweeps" / (re.sub(r"[^A-Za-z0-9._-]", "_", study) + ".json")


def _index(path: Path) -> dict:
    """A suite or sweep index (a JSON object), else {} with one warning line saying why it is ignored."""
    try:
        doc = load_json(path)
    except (OSError, ValueError) as exc:
        doc = clip(exc, 160)
    if not isinstance(doc, dict):
        log.warning("ignoring %s: %s", path, doc if isinstance(doc, str) else "not a JSON object")
    return doc if isinstance(doc, dict) else {}


def _items(value: Any, kind: type = dict) -> list:
    """The items of an index list that are `kind` (a JSON object; str: non-empty run ids), else none."""
    return [v for v in (value if isinstance(value, list) else []) if isinstance(v, kind) and v]


def memberships(root: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """({run id: suite names}, {run id: sweep study names}) from the suite and sweep indexes under root (a bad one: a warning)."""
    suites: dict[str, set[str]] = {}
    studies: dict[str, set[str]] = {}
    for path in sorted(root.glob("suites/*/suite.json")):
        suite = _index(path)
        name = str(suite.get("suite", path.parent.name))
        for row in _items(suite.get("rows")):
            for rid in _items(row.get("run_ids"), str):
                suites.setdefault(rid, set()).add(name)
        for trial in _items(suite.get("trials")):
            for rid in _items([trial.get("run_id")], str):
                studies.setdefault(rid, set()).add(str(suite.get("study", name)))
    for path in sorted(root.glob("sweeps/*.json")):
        index = _index(path)
        for trial in _items(index.get("trials")):
            for rid in _items([trial.get("run_id")], str):
                studies.setdefault(rid, set()).add(str(index.get("study", path.stem)))
    return suites, studies


def _candidates(root: Path) -> Iterable[os.DirEntry]:
    """Sub-folders of root that are (or were meant to be) run folders, and run-named entries that cannot be looked at."""
    with os.scandir(root) as it:
        for entry in it:
            name = entry.name
            # is_dir() of a link loop raises
            if not (entry.is_symlink() or entry.is_dir()) or name.startswith(_STAGING_PREFIX):
                continue
            if name.startswith(".tmp-") or _RUN_NAME.match(name):
                yield entry
            elif any(os.path.exists(os.path.join(entry.path, f)) for f in ("config.json", SUMMARY)):
                yield entry


def read_row(
    path: Path, suites: Mapping[str, set[str]] | None = None, studies: Mapping[str, set[str]] | None = None
) -> RunRow:
    """One run folder as a RunRow; problems become its status, never an exception."""
    name = path.name
    if name.startswith(".tmp-"):
        rid = name[len(".tmp-") :].rsplit("-", 1)[0]
        return RunRow(
            path,
            rid,
            status="half-written",
            problem="temporary folder: being written, or its process was killed",
            run_kind=rid.rsplit("-", 1)[0],
        )
    rec = RunRow(path, name)
    try:
        rec.summary = load_json(path / SUMMARY)
        rec.when = os.stat(path / SUMMARY).st_mtime
    except FileNotFoundError:
        rec.status, rec.problem = "incomplete", "no summary.json"
    except (OSError, ValueError) as exc:
        rec.status, rec.problem = "unreadable", f"summary.json: {clip(exc, 160)}"
    try:
        rec.meta = load_json(path / "config.json")
    except FileNotFoundError:
        if rec.ok:
            rec.status, rec.problem = "incomplete", "no config.json"
    except (OSError, ValueError) as exc:
        if rec.ok:
            rec.status, rec.problem = "unreadable", f"config.json: {clip(exc, 160)}"
    problem = documents_problem(name, rec.meta, rec.summary) if rec.ok else None
    if problem is not None:  # the rule of the run cache (core.runs): a run it would not reuse is not listed as ok
        rec.status, rec.problem = "unreadable", problem
    if not isinstance(rec.summary, dict) or not isinstance(rec.meta, dict):
        rec.summary, rec.meta = {}, {}
    s, m = rec.summary, rec.meta
    rec.run_kind = str(s.get("kind") or m.get("kind") or name.rsplit("-", 1)[0])
    rec.suites = tuple(sorted((suites or {}).get(name, ())))
    rec.studies = tuple(sorted((studies or {}).get(name, ())))
    if rec.run_kind == _PART1_KIND:
        rec.kind = "suite" if rec.suites else "trial" if rec.studies else "run"
    else:
        rec.kind = rec.run_kind
    data = s.get("data") if isinstance(s.get("data"), dict) else m.get("data")
    rec.data = str((data or {}).get("name", "")) if isinstance(data, dict) else ""
    rec.seed = _num(s.get("seed", m.get("seed")), int)
    rec.epochs = _num(s.get("epochs_run"), int)
    rec.train_acc, rec.val_acc, rec.test_acc = (_num(s.get(k), float) for k in ("train_acc", "val_acc", "test_acc"))
    # Training time: wall_seconds only covers writing the run folder, which starts after training.
    rec.seconds = _num(s.get("train_seconds", s.get("wall_seconds")), float)
    return rec


def _num(value: Any, kind: type) -> Any:
    try:
        ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
        return kind(value) if ok else None
    except OverflowError:  # an integer beyond the float range
        return None


def iso_time(t: float | None) -> str | None:
    """A time stamp as local "YYYY-MM-DD HH:MM" (None stays None)."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t is not None else None


def list_runs(root: str | os.PathLike, include_problems: bool = True) -> list[RunRow]:
    """Every run folder under `root` (oldest first; unreadable ones too unless told otherwise)."""
    root = Path(root)
    if not root.is_dir():
        raise CnnlabError(f"runs folder {root} does not exist")
    suites, studies = memberships(root)
    records = []
    for entry in _candidates(root):
        try:
            rec = read_row(Path(entry.path), suites, studies)
        except OSError as exc:  # e.g. a folder we may not list
            rec = RunRow(Path(entry.path), entry.name, status="unreadable", problem=str(exc))
        if include_problems or rec.ok:
            records.append(rec)
    return sort_runs(records, "when")


# ----------------------------------------------------------------------------- filtering and sorting
_OPS = ("!=", ">=", "<=", "=", ">", "<")


def parse_where(text: str) -> tuple[str, str, Any]:
    """'train.optimizer.lr=1e-3' -> ('train.optimizer.lr', '=', 0.001); also !=, <, <=, >, >=."""
    for op in _OPS:
        key, sep, raw = text.partition(op)
        if sep and key.strip() and not any(o in key for o in _OPS):
            raw = raw.strip()
            if raw[:1] in ("<", ">", "=", "!"):
                raise CnnlabError(
                    f"malformed --where {shorten(text)}: one operator of =, !=, <, <=, >, >=, then the value"
                )
            return key.strip(), op, _parse_value(raw, text)
    raise CnnlabError(f"--where takes KEY=VALUE (or !=, <, <=, >, >=), got {shorten(text)}")


def _parse_value(raw: str, text: str = "") -> Any:
    """JSON when it parses (numbers, true/false/null, lists), True/False/None as in YAML, else the text (not a broken [ or {)."""
    literals = {"true": True, "false": False, "none": None, "null": None}
    if raw.lower() in literals:
        return literals[raw.lower()]
    try:
        return json.loads(raw)
    except ValueError:
        if raw[:1] in ("[", "{"):
            raise CnnlabError(
                f"malformed --where {shorten(text or raw)}: the value is not a valid JSON list or object"
            ) from None
        return raw


def check_key(key: str, records: Sequence[RunRow], flag: str) -> None:
    """CnnlabError naming `flag` unless `key` is a column or a dotted key of some readable run; with no
    readable run, any dotted key passes (nothing to check it against) but an undotted one must be a column."""
    readable = [r for r in records if r.ok]
    sources = [s for r in readable for s in (r.meta.get("config"), r.meta, r.summary) if isinstance(s, Mapping)]
    if key in COLUMNS + ("id", "status", "path", "suites", "studies") or any(key in flatten(s) for s in sources):
        return
    if not readable and "." in key:
        return
    raise CnnlabError(
        f"unknown {flag} key {shorten(key)}: no run has it (use a column: {', '.join(('id',) + COLUMNS[1:])}, "
        "or a dotted config/summary key such as train.optimizer.lr)"
    )


def values_equal(actual: Any, wanted: Any) -> bool:
    """Whether a run's value equals the wanted one (`--where`, `runs diff`): numbers compared as numbers."""
    if (
        isinstance(actual, (int, float))
        and isinstance(wanted, (int, float))
        and not isinstance(actual, bool)
        and not isinstance(wanted, bool)
    ):
        return math.isclose(actual, wanted, rel_tol=1e-9, abs_tol=0.0)
    if isinstance(actual, (list, tuple)) and isinstance(wanted, (list, tuple)):
        return len(actual) == len(wanted) and all(values_equal(a, w) for a, w in zip(actual, wanted))
    return actual == wanted or (isinstance(wanted, str) and str(actual) == wanted)


def _matches(rec: RunRow, key: str, op: str, wanted: Any) -> bool:
    actual = rec.lookup(key)
    if op in ("=", "!="):
        return values_equal(actual, wanted) == (op == "=")
    try:
        return {">": actual > wanted, "<": actual < wanted, ">=": actual >= wanted, "<=": actual <= wanted}[op]
    except TypeError:
        return False


def filter_runs(
    records: Iterable[RunRow], kind: str | None = None, data: str | None = None, where: Sequence[str] = ()
) -> list[RunRow]:
    """Runs of `kind` (of `kinds()`, or a kind some run shows), on `data` (its name or folder name), and
    matching every `where` condition (KEY=VALUE on dotted config/summary keys)."""
    conditions = [parse_where(w) for w in where]
    records = list(records)
    for key, _, _ in conditions:
        check_key(key, records, "--where")
    if kind is not None and kind not in kinds() and not any(kind in (r.kind, r.run_kind) for r in records):
        raise CnnlabError(f"unknown kind {shorten(kind)} (choose from: {', '.join(kinds())})")
    out = []
    for rec in records:
        if kind is not None and not (
            kind in (rec.kind, rec.run_kind) or (kind == "suite" and rec.suites) or (kind == "trial" and rec.studies)
        ):
            continue
        if data is not None and data not in (rec.data, Path(rec.data).name):
            continue
        if conditions and not (rec.ok and all(_matches(rec, *c) for c in conditions)):
            continue
        out.append(rec)
    return out


def sort_runs(records: Iterable[RunRow], key: str = "when", reverse: bool = False) -> list[RunRow]:
    """Sorted by a column or dotted key (a CnnlabError if no run has it); runs without it go last (whatever `reverse`)."""
    records = list(records)
    check_key(key, records, "--sort")
    have, missing = [], []
    for rec in records:
        (missing if rec.value(key) is None else have).append(rec)
    try:
        have.sort(key=lambda r: (r.value(key), r.run_id), reverse=reverse)
    except TypeError:  # mixed types (a key that is a number in some runs and text in others)
        have.sort(key=lambda r: (str(r.value(key)), r.run_id), reverse=reverse)
    return have + sorted(missing, key=lambda r: r.run_id)


def _run_like(path: Path) -> bool:
    """Whether `path` is (or was meant to be) a run folder: named as a run id, or with its files."""
    return path.is_dir() and (
        bool(_RUN_NAME.match(path.name)) or any(os.path.lexists(path / name) for name in ("config.json", SUMMARY))
    )


def find_run(root: str | os.PathLike, ref: str) -> Path:
    """A run folder named by path, by run id, or by a unique prefix of a run id in `root`; a CnnlabError
    for an empty name, or a folder that is no run (`/etc`, the runs folder itself)."""
    if not str(ref).strip():
        raise CnnlabError("no run given: name a run folder, a run id, or a unique prefix of one")
    path = Path(ref)
    if _run_like(path) and path.resolve() != Path(root).resolve():
        return path
    root = Path(root)
    if path.name == ref and ref not in (".", "..") and _run_like(root / ref):  # a plain name inside root
        return root / ref
    matches = (
        sorted(e.name for e in _candidates(root) if e.name.startswith(ref) and not e.name.startswith("."))
        if root.is_dir()
        else []
    )
    if len(matches) == 1:
        return root / matches[0]
    if not matches:
        raise CnnlabError(f"no run {shorten(ref)}: not a run folder, nor a run id (or prefix) in {root}")
    shown = ", ".join(matches[:5]) + (f" and {len(matches) - 5} more" if len(matches) > 5 else "")
    raise CnnlabError(f"run {shorten(ref)} is ambiguous in {root}: {shown}")
