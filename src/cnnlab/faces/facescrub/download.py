"""`cnnlab faces download`: fetch FaceScrub faces, verify them, crop them, write a manifest.

Output folder (nothing is ever written outside it; every name comes from `safe_name`):

    originals/<Actor>/<face_id>.<ext>   raw downloaded bytes (ok and empty_box faces)
    crops/<Actor>/<face_id>.png         I[y1:y2, x1:x2], RGB
    gray<G>/<Actor>/<face_id>.png       G x G grayscale (G = 28 by default, for the MLP)
    rgb<R>/<Actor>/<face_id>.png        R x R RGB (R = 227 by default, for AlexNet)
    state/<Actor>/<face_id>.json        per-face record, written last (atomically)
    manifest.csv                        one row per list line, in list order (see faces.manifest)

Resuming: a face whose record says ok and whose original still hashes to the list's SHA-256 is
reused without network (its copies are remade locally if missing or if the sizes/bbox changed);
final answers (404, hash_mismatch, not_image, truncated...) are not fetched again unless
`retry_failed`; transient failures (timeouts, resets, 5xx) are. Every file is written through a
temporary file and a rename, so a kill at any moment loses at most the faces in flight, and a rerun
completes them: the state records are the durable journal of a run, and manifest.csv is replaced
only once a run has settled every row.

Memory does not grow with the list: the lists are planned compactly (faces.plan), at most a few
URLs per worker are in flight (faces.fanout), each URL is fetched once by one of `workers` network
threads and its faces are checked and cropped on any of ~2 threads per core, and manifest rows wait
on disk (faces.manifest) until the ordered manifest is written at the end.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from cnnlab.core.errors import DataError
from cnnlab.core.io import atomic_write_bytes, atomic_write_json, sha256_bytes, sha256_file
from cnnlab.faces.facescrub.fanout import GroupRunner
from cnnlab.faces.facescrub.fetch import FetchResult, fetch
from cnnlab.faces.facescrub.images import check_image, extension_for, known_extensions, make_crops, png_bytes
from cnnlab.faces.facescrub.lists import FaceRow
from cnnlab.faces.facescrub.manifest import MANIFEST, ManifestJournal, manifest_row, read_manifest
from cnnlab.faces.facescrub.plan import ListPlan, plan_lists
from cnnlab.faces.facescrub.settings import DownloadConfig, DownloadReport, format_summary

log = logging.getLogger(__name__)

__all__ = ["DownloadConfig", "DownloadReport", "download_faces", "format_summary", "read_manifest"]
# Verdicts on content or final HTTP answers: not fetched again on a rerun (unless retry_failed).
_FINAL = {
    "hash_mismatch",
    "not_image",
    "truncated",
    "corrupt_image",
    "decompression_bomb",
    "too_large",
    "too_many_redirects",
    "bad_url",
}
_SAFE_PART = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
_RECORD_VERSION = 1


# ----------------------------------------------------------------------------- paths
def _rel(*parts: str) -> str:
    for p in parts[:-1]:
        if not _SAFE_PART.fullmatch(p):
            raise DataError(f"unsafe path component {p!r}")  # unreachable with safe_name, kept as a guard
    return "/".join(parts)


def _inside(out: Path, rel: str) -> Path:
    root = os.path.abspath(out)
    path = Path(os.path.abspath(os.path.join(root, rel)))
    if os.path.commonpath([root, path]) != root:
        raise DataError(f"refusing to write outside the output folder: {rel}")
    return path


def _paths(row: FaceRow, cfg: DownloadConfig, fmt: str | None) -> dict[str, str]:
    a, f = row.actor_dir, row.face_file
    return {
        "original": _rel("originals", a, f"{f}.{extension_for(fmt)}"),
        "crop": _rel("crops", a, f"{f}.png"),
        "gray": _rel(f"gray{cfg.gray_size}", a, f"{f}.png"),
        "rgb": _rel(f"rgb{cfg.rgb_size}", a, f"{f}.png"),
    }


# ----------------------------------------------------------------------------- one URL group
class _Downloader:
    def __init__(self, out: Path, cfg: DownloadConfig) -> None:
        self.out, self.cfg = out, cfg

    def state_path(self, row: FaceRow) -> Path:
        return _inside(self.out, _rel("state", row.actor_dir, f"{row.face_file}.json"))

    def settle_local(self, row: FaceRow) -> dict | None:
        """The face's record if it can be settled without network (written if it changed), else None."""
        rec, unchanged = self._from_local(row)
        if rec is not None and not unchanged:
            atomic_write_json(self.state_path(row), rec)
        return rec

    def fetch(self, rows: Sequence[FaceRow]) -> FetchResult:
        """One GET of the URL these rows share."""
        c = self.cfg
        return fetch(
            rows[0].url,
            timeout=c.timeout,
            retries=c.retries,
            max_bytes=c.max_bytes,
            backoff=c.backoff,
            backoff_max=c.backoff_max,
        )

    def settle_fetched(self, row: FaceRow, fetched: FetchResult) -> dict:
        """The face's record from the fetched bytes (checked, cropped), written to its state file."""
        rec = self._from_fetch(row, fetched)
        atomic_write_json(self.state_path(row), rec)
        return rec

    def _base(self, row: FaceRow) -> dict:
        c = self.cfg
        return {
            "version": _RECORD_VERSION,
            "url": row.url,
            "expected_sha256": row.sha256,
            "bbox": row.bbox_text,
            "gray_size": c.gray_size,
            "rgb_size": c.rgb_size,
            "max_bytes": c.max_bytes,
            "max_pixels": c.max_pixels,
            "status": "",
            "detail": "",
            "http_code": "",
            "attempts": 0,
            "transient": False,
            "bytes": "",
            "sha256": "",
            "format": "",
            "width": "",
            "height": "",
            "original": "",
            "crop": "",
            "gray": "",
            "rgb": "",
        }

    def _read_record(self, row: FaceRow) -> dict | None:
        try:
            rec = json.loads(self.state_path(row).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(rec, dict) or rec.get("version") != _RECORD_VERSION:
            return None
        if rec.get("url") != row.url or rec.get("expected_sha256") != row.sha256:
            return None  # the list changed: this face is new
        return rec

    def _from_local(self, row: FaceRow) -> tuple[dict | None, bool]:
        """(record settled without network or None if the face must be fetched, record unchanged?)."""
        rec = self._read_record(row)
        c = self.cfg
        if rec is not None and not c.retry_failed:
            status = rec.get("status", "")
            final = status in _FINAL or (status.startswith("http_") and not rec.get("transient"))
            if status == "too_large" and c.max_bytes > rec.get("max_bytes", 0):
                final = False
            if status == "decompression_bomb" and c.max_pixels > rec.get("max_pixels", 0):
                final = False
            if final:
                return rec, True
        if rec is not None and rec.get("status") in ("ok", "empty_box"):
            original = rec.get("original", "")
            same_inputs = all(
                rec.get(k) == v
                for k, v in (("bbox", row.bbox_text), ("gray_size", c.gray_size), ("rgb_size", c.rgb_size))
            )
            files = [original] + ([rec["crop"], rec["gray"], rec["rgb"]] if rec["status"] == "ok" else [])
            if same_inputs and all(f and _inside(self.out, f).is_file() for f in files):
                if original and sha256_file(_inside(self.out, original)) == row.sha256:
                    return rec, True
        data = self._local_original(row)
        if data is None:
            return None, False
        rec = self._process(row, data, self._base(row))
        rec["detail"] = rec["detail"] or "rebuilt from the local original"
        return rec, False

    def _local_original(self, row: FaceRow) -> bytes | None:
        folder = _inside(self.out, _rel("originals", row.actor_dir, "x")).parent
        for ext in known_extensions():  # not a glob: that would list the whole folder for every face
            path = folder / f"{row.face_file}.{ext}"
            if path.is_file():
                data = path.read_bytes()
                if sha256_bytes(data) == row.sha256:
                    return data
        return None

    def _from_fetch(self, row: FaceRow, fr: FetchResult) -> dict:
        rec = self._base(row)
        rec.update(http_code=fr.http_code or "", attempts=fr.attempts, transient=fr.transient)
        if fr.status != "ok" or fr.data is None:
            rec.update(status=fr.status, detail=fr.detail)
            return rec
        return self._process(row, fr.data, rec)

    def _process(self, row: FaceRow, data: bytes, rec: dict) -> dict:
        assert row.bbox is not None
        checked = check_image(data, row.sha256, self.cfg.max_pixels)
        rec.update(
            status=checked.status,
            detail=checked.detail,
            bytes=len(data),
            sha256=checked.sha256,
            format=checked.fmt or "",
        )
        if checked.status != "ok" or checked.image is None:
            return rec
        img = checked.image
        rec.update(width=img.size[0], height=img.size[1])
        paths = _paths(row, self.cfg, checked.fmt)
        original = _inside(self.out, paths["original"])
        if not (original.is_file() and sha256_file(original) == checked.sha256):
            atomic_write_bytes(original, data)
        rec["original"] = paths["original"]
        try:
            crops = make_crops(img, row.bbox, self.cfg.gray_size, self.cfg.rgb_size)
            encoded = None if crops is None else [png_bytes(c) for c in crops]
        except (OSError, ValueError, TypeError) as exc:  # odd modes PIL decodes but cannot convert
            rec.update(status="corrupt_image", detail=f"cannot crop: {type(exc).__name__}: {exc}"[:200])
            return rec
        if encoded is None:
            rec.update(status="empty_box", detail=f"bbox {row.bbox_text} is empty inside {img.size[0]}x{img.size[1]}")
            return rec
        for name, png in zip(("crop", "gray", "rgb"), encoded):
            atomic_write_bytes(_inside(self.out, paths[name]), png)
            rec[name] = paths[name]
        return rec


# ----------------------------------------------------------------------------- driver
@contextlib.contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with open(out / ".lock", "a+") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataError(f"another `cnnlab faces download` is writing to {out}") from None
        yield


def _remove_stale_temporaries(out: Path) -> None:
    """Temporary files left by a killed run (atomic writes name them '.<name>.*'). Only our folders."""
    ours = re.compile(r"(originals|crops|state|gray\d+|rgb\d+)")
    for child in out.iterdir() if out.is_dir() else []:
        if child.is_file() and child.name.startswith(f".{MANIFEST}."):
            child.unlink(missing_ok=True)
        elif child.is_dir() and ours.fullmatch(child.name):
            for root, _dirs, files in os.walk(child):
                for name in files:
                    if name.startswith("."):
                        Path(root, name).unlink(missing_ok=True)


def download_faces(
    lists: Sequence[str | Path],
    out: str | Path,
    config: DownloadConfig | None = None,
    *,
    actors: Sequence[str] | None = None,
    progress: bool = False,
) -> DownloadReport:
    """Download, verify and crop every face of `lists` into `out`; write out/manifest.csv.

    Safe to interrupt and rerun (see module docstring). `actors` keeps a subset of names.
    """
    cfg = config or DownloadConfig()
    out = Path(out)
    with plan_lists(lists, actors) as plan:
        if out.exists() and not out.is_dir():
            raise DataError(f"--out {out} exists and is not a folder")
        out.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        with _exclusive(out):
            _remove_stale_temporaries(out)
            report = DownloadReport(out, out / MANIFEST)
            with ManifestJournal(out, len(plan)) as journal:
                _settle_all(plan, _Downloader(out, cfg), cfg, journal, report, progress)
                journal.write(report.manifest)
    report.elapsed = time.monotonic() - start
    log.info(
        "faces: %d ok of %d rows in %.1f s (%d URLs fetched, %d faces reused)",
        report.counts["ok"],
        report.total,
        report.elapsed,
        report.fetched,
        report.reused,
    )
    return report


def _settle_all(
    plan: ListPlan,
    worker: _Downloader,
    cfg: DownloadConfig,
    journal: ManifestJournal,
    report: DownloadReport,
    progress: bool,
) -> None:
    """Settle every planned row: rows with a problem here, URL groups on the pool (faces.fanout)."""
    from tqdm import tqdm

    bar = tqdm(total=plan.n_faces, unit="face", disable=not progress, file=sys.stderr, dynamic_ncols=True)

    def groups() -> Iterator[list[tuple[int, FaceRow]]]:
        for group in plan.work():
            idx, row = group[0]
            if row.problem is None:
                yield group
            else:  # nothing to fetch: its manifest row comes from the list
                journal.add(idx, manifest_row(row, None))
                report.add(row, row.problem)

    def done(items: Sequence[tuple[int, FaceRow]], results: list[tuple[dict, bool]]) -> None:
        for (idx, row), (rec, network) in zip(items, results):
            journal.add(idx, manifest_row(row, rec))
            report.add(row, rec["status"])
            report.reused += not network
        report.fetched += any(network for _rec, network in results)
        bar.update(len(items))
        bar.set_postfix(ok=report.counts["ok"], refresh=False)

    runner = GroupRunner(
        settle=lambda item: worker.settle_local(item[1]),
        fetch=lambda items: worker.fetch([row for _i, row in items]),
        finish=lambda item, fetched: worker.settle_fetched(item[1], fetched),
        done=done,
        name="faces",
        net_workers=cfg.workers,
        local_workers=min(cfg.workers, 2 * (os.cpu_count() or 1)),
    )
    try:
        runner.run(groups())
    finally:
        bar.close()
