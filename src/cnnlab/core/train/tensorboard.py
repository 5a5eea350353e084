"""TensorBoard event files for run folders: written live during training, or after the fact.

Where: every run's events go to <run folder>/tensorboard/, so `tensorboard --logdir runs` shows every
run (named `<run id>/tensorboard`) and the events travel with their run. Live logging first writes to
a hidden staging folder <runs>/.tmp-tensorboard-...-<pid> (visible to a running TensorBoard while the
run trains); the run writer then moves it into the run's temporary folder just before that folder is
renamed into place (`Callback.on_run_folder`), so a finished run always holds its own events and a
failed or pruned run leaves none (stale staging folders are removed like stale run folders).

What (the same live and after the fact):
  per epoch (step = epoch)  loss/<split> and accuracy/<split> for train, val and test when recorded, lr
  hparams                   the flattened resolved config (dotted keys, plus kind, seed, data and run
                            id) as the HParams plugin's session info, with the final metrics as scalars
                            final/<split>_acc, final/<split>_loss, final/epochs_run (its metric columns)
  images                    figures/<name> for each *.png of the run folder and of diagnostics/

tensorboard is an optional extra (`pip install -e ".[tensorboard]"`); it is imported only here and
only when asked for, so a plain `cnnlab train` never pays for it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cnnlab.core import readback
from cnnlab.core.config import flatten
from cnnlab.core.errors import CnnlabError
from cnnlab.core.processes import process_tag
from cnnlab.core.train.callbacks import Callback, FitState

__all__ = [
    "EVENTS_DIR",
    "TensorBoardLogger",
    "require_tensorboard",
    "write_run_events",
    "write_runs_events",
    "logdir_command",
]

log = logging.getLogger(__name__)

EVENTS_DIR = "tensorboard"  # inside each run folder
INSTALL_HINT = (
    'TensorBoard logging needs the tensorboard package: pip install -e ".[tensorboard]" (or pip install tensorboard)'
)
SPLITS = ("train", "val", "test")


def require_tensorboard() -> None:
    """Raise a one-line CnnlabError saying what to install when tensorboard is missing (cheap check)."""
    try:
        import tensorboard  # noqa: F401  (the package root is small; the writer is imported later)
    except ImportError:
        raise CnnlabError(INSTALL_HINT) from None


def _summary_writer(log_dir: Path) -> Any:
    """torch's SummaryWriter on `log_dir` (imports tensorboard: about a second)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise CnnlabError(INSTALL_HINT) from None
    return SummaryWriter(log_dir=str(log_dir))


def logdir_command(path: str | os.PathLike) -> str:
    """The shell line that opens TensorBoard on a runs folder."""
    import shlex

    return f"tensorboard --logdir {shlex.quote(str(path))}"


# ----------------------------------------------------------------------------- what is written
def write_epoch(writer: Any, row: Mapping[str, Any], walltime: float | None = None) -> None:
    """One history row as scalars (step = its epoch): loss/<split>, accuracy/<split>, lr."""
    step = int(row["epoch"])
    for split in SPLITS:
        for key, tag in ((f"{split}_loss", f"loss/{split}"), (f"{split}_acc", f"accuracy/{split}")):
            if isinstance(row.get(key), (int, float)):
                writer.add_scalar(tag, float(row[key]), step, walltime=walltime)
    if isinstance(row.get("lr"), (int, float)):
        writer.add_scalar("lr", float(row["lr"]), step, walltime=walltime)


def _hparam_value(value: Any) -> bool | int | float | str:
    """A config leaf as a value the HParams plugin takes (lists and None as text)."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value)


def run_hparams(meta: Mapping[str, Any]) -> dict[str, bool | int | float | str]:
    """The hparams of a run from its config.json: kind, seed, data name and the flattened config."""
    data = meta.get("data") or {}
    out: dict[str, Any] = {
        "kind": meta.get("kind", "?"),
        "seed": meta.get("seed", -1),
        "dataset": data.get("name", "?"),
    }
    out.update(flatten(meta.get("config") or {}))
    return {k: _hparam_value(v) for k, v in out.items()}


def final_metrics(summary: Mapping[str, Any]) -> dict[str, float]:
    """The HParams view's metric columns: final/<split>_acc and _loss of the reported model, epochs run."""
    out = {}
    for split in SPLITS:
        for name in (f"{split}_acc", f"{split}_loss"):
            if isinstance(summary.get(name), (int, float)) and not isinstance(summary.get(name), bool):
                out[f"final/{name}"] = float(summary[name])
    if isinstance(summary.get("epochs_run"), int):
        out["final/epochs_run"] = float(summary["epochs_run"])
    return out


def meta_time(folder: Path) -> float:
    """When the run started: config.json is its first file."""
    return (folder / "config.json").stat().st_mtime


def figures(folder: Path) -> list[Path]:
    """The run's figures: *.png in the folder and in diagnostics/, sorted."""
    return sorted(folder.glob("*.png")) + sorted((folder / "diagnostics").glob("*.png"))


def write_run_info(writer: Any, folder: Path) -> None:
    """hparams (with the final metrics) and figures of the complete run folder `folder` (step = epochs run)."""
    import numpy as np
    from PIL import Image
    from tensorboard.plugins.hparams.summary_v2 import hparams_pb

    meta = readback.load_json(folder / "config.json")
    summary = readback.load_json(folder / "summary.json")
    step = int(summary.get("epochs_run") or 0)
    run_id = str(summary.get("run_id", folder.name))
    params = {**run_hparams(meta), "run_id": run_id}
    metrics = final_metrics(summary)
    # TensorBoard's own hparams API, session start info only: with no Experiment summary anywhere,
    # TensorBoard builds the HParams table from the union of every run's hparams, and takes the metric
    # columns from the runs' scalars (an Experiment summary, as torch's add_hparams writes, would fix
    # the columns to one arbitrary run's).
    writer.file_writer.add_summary(hparams_pb(params, trial_id=run_id, start_time_secs=meta_time(folder)), step)
    for tag, value in metrics.items():
        writer.add_scalar(tag, value, step)
    for png in figures(folder):
        try:
            with Image.open(png) as im:
                pixels = np.asarray(im.convert("RGB"))  # (H, W, 3) uint8
        except OSError as exc:
            log.warning("figure %s not logged to TensorBoard: %s", png, exc)
            continue
        writer.add_image(
            f"figures/{png.relative_to(folder).with_suffix('').as_posix()}", pixels, step, dataformats="HWC"
        )


# ----------------------------------------------------------------------------- after the fact
def write_run_events(folder: str | os.PathLike, overwrite: bool = False) -> Path | None:
    """Write <folder>/tensorboard/ from metrics.jsonl, summary.json, config.json and the figures.

    Returns the events folder, or None when it already exists and `overwrite` is False. The events are
    written to a temporary folder first and renamed into place, so a crash leaves no half of them.
    Raises CnnlabError for a folder that is not a complete run.
    """
    require_tensorboard()
    folder = Path(folder)
    target = folder / EVENTS_DIR
    if target.exists() and not overwrite:
        return None
    for name in ("config.json", "summary.json"):
        if not (folder / name).is_file():
            raise CnnlabError(f"{folder} is not a complete run folder (no {name})")
    summary = readback.load_json(folder / "summary.json")  # untrusted: a FIFO or deep JSON is a ValueError
    history = []
    if (folder / "metrics.jsonl").is_file():
        history = readback.load_jsonl(folder / "metrics.jsonl")
    # Wall times as they were: the run ended when summary.json was written, epochs took row["seconds"].
    end = (folder / "summary.json").stat().st_mtime
    t = end - float(summary.get("wall_seconds") or sum(float(r.get("seconds", 0)) for r in history))
    tmp = folder / f".{EVENTS_DIR}-tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        writer = _summary_writer(tmp)
        try:
            for row in history:
                t += float(row.get("seconds") or 0.0)
                write_epoch(writer, row, walltime=t)
            write_run_info(writer, folder)
        finally:
            writer.close()
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def write_runs_events(folders: Iterable[str | os.PathLike], overwrite: bool = False) -> dict[str, int]:
    """write_run_events for many run folders; counts of written, skipped (had events) and failed ones."""
    counts = {"written": 0, "skipped": 0, "failed": 0}
    for folder in folders:
        try:
            counts["written" if write_run_events(folder, overwrite) is not None else "skipped"] += 1
        except (OSError, ValueError, CnnlabError) as exc:
            log.warning("no TensorBoard events for %s: %s", folder, exc)
            counts["failed"] += 1
    return counts


# ----------------------------------------------------------------------------- live
class TensorBoardLogger(Callback):
    """Live TensorBoard logging of every run trained with it, into each run folder's tensorboard/.

    `root` is the runs folder (the staging folder goes there). One logger can serve many runs in turn
    and crosses process boundaries (suites' workers get a pickled copy). Writes no random numbers.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        require_tensorboard()  # fail before any training, not after it
        self.root = Path(root)
        self.writer: Any = None
        self.staging: Path | None = None

    def __getstate__(self) -> dict:
        return {"root": self.root, "writer": None, "staging": None}

    def on_fit_start(self, state: FitState) -> None:
        self._discard()  # a staged log that no run folder adopted (that run failed or was pruned)
        self.root.mkdir(parents=True, exist_ok=True)
        self.staging = (
            self.root / f".tmp-{EVENTS_DIR}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}-{process_tag()}"
        )
        self.writer = _summary_writer(self.staging)

    def on_epoch_end(self, state: FitState, row: dict) -> None:
        if self.writer is not None:
            write_epoch(self.writer, row)
            self.writer.flush()  # live: visible to a running TensorBoard after every epoch

    def on_fit_end(self, state: FitState) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def on_run_folder(self, folder: Path) -> None:
        """Add hparams and figures to the staged events and move them into the run folder."""
        staging, self.staging = self.staging, None
        if staging is None or not staging.is_dir():
            return
        try:
            writer = _summary_writer(staging)
            try:
                write_run_info(writer, folder)
            finally:
                writer.close()
            shutil.move(str(staging), str(folder / EVENTS_DIR))
        except (OSError, ValueError) as exc:  # never lose a trained run over its TensorBoard events
            log.warning("TensorBoard events of %s not saved: %s", folder.name, exc)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _discard(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
