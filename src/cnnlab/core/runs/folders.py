"""Run folders: every result cnnlab reports lives in runs/<run id>/.

A run id is `<kind>-<hash>` where the hash covers (kind, resolved config, data hash, seed, cnnlab
version): the same work always maps to the same folder, so finished runs are cached. A run is
written into a hidden temporary folder and renamed into place only when complete, so a killed
process never leaves a half-written run, and a rerun simply starts that run again (the temporary
folders of dead processes are removed by the next `create_run` in the same runs folder).

A cached run folder is used only when it validates (`validity.run_problem`): a damaged one (hand-edited,
truncated, half-deleted) is reported in one warning line, trained again and replaced atomically.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import logging
import os
import shutil
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnlab.core.errors import clip
from cnnlab.core.io import atomic_path, atomic_write_json, atomic_write_text, json_text, load_json, short_hash
from cnnlab.core.processes import FOREIGN_TMP_AGE, left_by_dead_process, process_tag
from cnnlab.core.runs.validity import SUMMARY, load_history, load_summary, run_problem
from cnnlab.core.runtime import identity_device
from cnnlab.core.version import __version__

if TYPE_CHECKING:  # torch only where weights are written: `cnnlab runs` reads run folders without it
    import torch

    from cnnlab.core.train.callbacks import Callback

log = logging.getLogger(__name__)


def run_key(kind: str, config: Mapping[str, Any], data_hash: str, seed: int, device: Any = "cpu") -> dict:
    """What identifies a run: changing any of it is a different run.

    The device type is part of it (a CUDA run and a CPU run of the same config differ in the last digits,
    so a report never mixes them silently); CPU runs leave it out, so their ids are those of cnnlab 0.2.
    """
    key = {"kind": kind, "config": config, "data_hash": data_hash, "seed": seed, "version": __version__}
    if identity_device(device):
        key["device"] = identity_device(device)
    return key


def run_id(kind: str, config: Mapping[str, Any], data_hash: str, seed: int, device: Any = "cpu") -> str:
    return f"{kind}-{short_hash(run_key(kind, config, data_hash, seed, device))}"


@dataclass(frozen=True)
class RunResult:
    """A finished run folder: its path, its summary.json, and whether it was reused from the cache."""

    path: Path
    summary: dict
    cached: bool


def find_cached_run(
    root: str | os.PathLike, kind: str, config: Mapping[str, Any], data_hash: str, seed: int, device: Any = "cpu"
) -> Path | None:
    """The finished, valid run folder for this work, if there is one (an invalid one: a warning, and None)."""
    path = Path(root) / run_id(kind, config, data_hash, seed, device)
    if not path.exists():
        return None
    problem = run_problem(path)
    if problem is not None:
        log.warning("ignoring the damaged cached run %s (%s): training it again", path, problem)
        return None
    return path


def cached_run(
    root: str | os.PathLike,
    kind: str,
    config: Mapping[str, Any],
    data_hash: str,
    seed: int,
    force: bool = False,
    device: Any = "cpu",
) -> RunResult | None:
    """The cached RunResult for this work, or None when there is none or `force` asks to retrain."""
    path = None if force else find_cached_run(root, kind, config, data_hash, seed, device)
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
    """Read a finished run folder (config.json, summary.json, metrics.jsonl) through core.readback; a
    DataError names what is missing or unreadable."""
    from cnnlab.core.errors import DataError

    path = Path(run_path)
    if not (path / SUMMARY).is_file():
        raise DataError(f"not a finished cnnlab run folder (no {SUMMARY}): {path}")
    try:
        meta = load_json(path / "config.json")
        summary = load_summary(path)
        history = load_history(path) if (path / "metrics.jsonl").is_file() else []
    except (OSError, ValueError) as exc:  # UntrustedData is a ValueError
        raise DataError(f"unreadable run folder {path}: {clip(exc, 200)}") from None
    if not isinstance(meta, dict) or not isinstance(summary, dict):
        raise DataError(f"unreadable run folder {path}: config.json and summary.json must hold objects")
    return RunRecord(path, meta, summary, history)


class RunDir:
    """Writer for one run folder (used inside `create_run`)."""

    def __init__(
        self,
        path: Path,
        final_path: Path,
        kind: str,
        config: Mapping[str, Any],
        data: Mapping[str, Any],
        seed: int,
        device: str = "cpu",
    ) -> None:
        self.path = path  # the temporary folder being written
        self.final_path = final_path
        self.run_id = final_path.name
        self.kind = kind
        self.config = dict(config)
        self.data = dict(data)
        self.seed = seed
        self.device = device
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
        import torch

        with atomic_path(self.path / name) as tmp, open(tmp, "wb") as f:  # a file object: a full disk stays an OSError
            torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, f)
        return self.path / name

    def write_summary(self, summary: Mapping[str, Any]) -> dict:
        """summary.json: the given fields plus run id, kind, seed, data, version, device, host and wall seconds."""
        full = {
            "run_id": self.run_id,
            "kind": self.kind,
            "version": __version__,
            "seed": self.seed,
            "data": self.data,
            **summary,
            "device": self.device,
            "host": socket.gethostname(),  # who trained it (a cluster's worker); not part of the run id
            "wall_seconds": round(time.time() - self.started, 3),
        }
        self.write_json(SUMMARY, full)
        return full


@contextlib.contextmanager
def create_run(
    root: str | os.PathLike,
    kind: str,
    config: Mapping[str, Any],
    seed: int,
    data: Mapping[str, Any],
    callbacks: Sequence[Callback] = (),
    replace: bool = False,
    device: str = "cpu",
) -> Iterator[RunDir]:
    """Write a run into a temporary folder; rename it to root/<run id> when the block succeeds.

    `data` must hold a "hash" (and usually a "name"). The resolved config is written first as
    config.json. On any exception the temporary folder is removed, so no half-written run remains.
    A valid run folder already there (finished meanwhile by another process) is kept, unless
    `replace` (--force); an invalid one is replaced. Stale temporary folders are removed first.
    After the block, each callback's `on_run_folder` may add files to the complete folder (the
    training callbacks of the run, e.g. TensorBoard logging) before it is renamed into place.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    clean_stale_tmp(root)
    rid = run_id(kind, config, str(data.get("hash", "")), seed, device)
    final = root / rid
    tmp = root / f".tmp-{rid}-{process_tag()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    run = RunDir(tmp, final, kind, config, data, seed, device)
    try:
        run.write_json(
            "config.json",
            {
                "kind": kind,
                "seed": seed,
                "version": __version__,
                "device": device,
                "data": dict(data),
                "config": dict(config),
            },
        )
        yield run
        if not (tmp / SUMMARY).is_file():
            raise RuntimeError("a run must write its summary before it finishes")
        for cb in callbacks:
            cb.on_run_folder(tmp)
        install_folder(tmp, final, replace)
        run.path = final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def install_folder(tmp: Path, final: Path, replace: bool) -> None:
    """Rename the finished folder `tmp` to `final`, safe against other processes finishing the same run.

    A directory rename never overwrites a non-empty directory, so an existing `final` is first renamed
    aside (to a .tmp-old-* name that `clean_stale_tmp` removes if this process dies), then `tmp` takes
    its place and the old folder is deleted. A valid `final` is kept (and `tmp` dropped) unless `replace`.
    """
    aside = final.with_name(f".tmp-old-{final.name}-{process_tag()}")
    for _ in range(10):
        if final.exists() or final.is_symlink():
            problem = run_problem(final)
            if problem is None and not replace:  # finished meanwhile by another process: keep it
                shutil.rmtree(tmp)
                return
            log.info("replacing run folder %s (%s)", final, "--force" if problem is None else problem)
            try:
                os.rename(final, aside)
            except FileNotFoundError:  # another process moved it meanwhile: look again
                continue
        try:
            os.rename(tmp, final)
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            continue  # another process installed its copy between the two renames: look again
        finally:
            shutil.rmtree(aside, ignore_errors=True)
        return
    raise OSError(f"could not install run folder {final}: other processes keep replacing it")


def clean_stale_tmp(root: str | os.PathLike, foreign_age: float = FOREIGN_TMP_AGE) -> int:
    """Remove temporary run folders (.tmp-*-<pid>.<host>) left by killed processes: this host's whose process
    is gone, and any other (another host's, or unnamed) only once untouched for `foreign_age` seconds, so
    several hosts can share one runs folder (NFS) without removing each other's runs in progress."""
    removed = 0
    for path in Path(root).glob(".tmp-*"):
        if left_by_dead_process(path.name.rsplit("-", 1)[-1], path, foreign_age):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed
