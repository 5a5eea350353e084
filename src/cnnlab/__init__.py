"""cnnlab: reproduce and extend the CNN practical (art-style CNNs, FaceScrub transfer learning, report).

The public Python API; the `cnnlab` command calls the same functions::

    import cnnlab

    data = cnnlab.load_art_data()                                   # embedded synthetic paintings
    config = cnnlab.resolve_config(overrides=["train.epochs=5"])    # the Part 1 RunConfig, like --set
    run = cnnlab.train(config, out="runs")                          # runs/<run id>/, cached by content
    record = cnnlab.load_run(run.path)                              # config, summary, per-epoch history
    model = cnnlab.load_model(run.path)                             # the trained SimpleCNN, eval mode
    diagnostics = cnnlab.inspect(run.path)                          # runs/<run id>/diagnostics/: confusion, ...
    suite = cnnlab.run_suite("pooling", quick=True)                 # runs/suites/pooling/
    report = cnnlab.build_report(quick=True)                        # report/report.pdf

Importing cnnlab is cheap: each function imports what it needs (torch, matplotlib, optuna) when called.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnlab.core.errors import CnnlabError, ConfigError, DataError
from cnnlab.core.runtime import DEFAULT_DEVICE, DEFAULT_OUT
from cnnlab.core.version import __version__

if TYPE_CHECKING:  # the types of the API, without importing torch at `import cnnlab`
    from torch import nn

    from cnnlab.art.config import ModelConfig, RunConfig
    from cnnlab.art.data import ImageDataset
    from cnnlab.art.suites import SuiteResult
    from cnnlab.core.diagnostics.metrics import InspectResult
    from cnnlab.core.runs.folders import RunRecord, RunResult
    from cnnlab.core.runs.kinds import RunKind
    from cnnlab.core.train.callbacks import Callback
    from cnnlab.faces.data.dataset import FaceData
    from cnnlab.report.options import ReportResult

__all__ = [
    "__version__",
    "CnnlabError",
    "ConfigError",
    "DataError",
    "load_art_data",
    "load_faces",
    "resolve_config",
    "build_model",
    "train",
    "run_suite",
    "load_run",
    "load_model",
    "inspect",
    "build_report",
]


def load_art_data(name: str | None = None, image_size: int | None = None) -> ImageDataset:
    """The Part 1 paintings: the embedded `synthetic-artists` set (the default, DataConfig.name) or a folder
    with one sub-folder per artist.

    Images are (N, 3, S, S) float tensors in [-0.5, 0.5]; `image_size` defaults to the RunConfig's.
    """
    from cnnlab.art.config import DataConfig
    from cnnlab.art.data import load_art_data as load

    return load(name or DataConfig().name, image_size=image_size or DataConfig().image_size)


def load_faces(
    source: str = "olivetti", *, image_size: int = 28, channels: int = 1, actors: Sequence[str] | None = None
) -> FaceData:
    """Part 2 faces split per person: the embedded Olivetti faces or a `cnnlab faces download` folder.

    `actors` are names, or "course" for the six actors of the course project; None means everyone.
    """
    from cnnlab.faces.data.dataset import load_faces as load
    from cnnlab.faces.data.dataset import resolve_actors

    return load(source, image_size=image_size, channels=channels, actors=resolve_actors(actors))


def resolve_config(yaml_path: str | Path | None = None, overrides: Sequence[str] = ()) -> RunConfig:
    """The Part 1 RunConfig: the defaults, then a YAML file, then `key=value` overrides (as `--set`)."""
    from cnnlab.art.config import RunConfig
    from cnnlab.core.config import resolve_config as resolve

    return resolve(RunConfig, yaml_path, overrides)


def build_model(config: ModelConfig | None = None, num_classes: int = 11, image_size: int = 50) -> nn.Module:
    """A SimpleCNN (the handout's starter network by default), freshly initialised."""
    from cnnlab.art.config import ModelConfig
    from cnnlab.art.models import create_model

    config = config or ModelConfig()
    return create_model(config.name, num_classes=num_classes, config=config, image_size=image_size)


def train(
    config: RunConfig | None = None,
    *,
    out: str | Path = DEFAULT_OUT,
    device: str = DEFAULT_DEVICE,
    force: bool = False,
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
) -> RunResult:
    """Train one Part 1 run (seed: config.train.seed) into out/<run id>/, or reuse the finished one.

    Returns the run folder, its summary (train/val/test accuracy, epochs, ...) and whether it was cached.
    """
    from cnnlab.art.config import RunConfig
    from cnnlab.art.run import train_run

    return train_run(
        config or RunConfig(), out, device=device, force=force, progress=progress, callbacks=list(callbacks)
    )


def run_suite(
    name: str,
    *,
    repeats: int | Sequence[int] | None = None,
    quick: bool = False,
    out: str | Path = DEFAULT_OUT,
    base: RunConfig | None = None,
    jobs: int | None = None,
    device: str = DEFAULT_DEVICE,
) -> SuiteResult:
    """Run (or reuse) a Part 1 experiment suite ("baseline", "pooling", ...) and write out/suites/<name>/.

    Every variant runs on the same paired repeats (repeat r: seed r, validation fold r % data.folds);
    `repeats` is a count or the repeat ids (default: cnnlab.art.repeats.DEFAULT_REPEATS); `jobs` parallel
    training processes (default: one per core, at most cnnlab.core.runtime.MAX_JOBS).
    """
    from cnnlab.art.config import RunConfig
    from cnnlab.art.repeats import DEFAULT_REPEATS
    from cnnlab.art.suites import SuiteOptions
    from cnnlab.art.suites import run_suite as run
    from cnnlab.core.runtime import RuntimeOptions

    runtime = RuntimeOptions(out=Path(out), device=device, **({"jobs": jobs} if jobs is not None else {}))
    options = SuiteOptions(
        runtime=runtime, base=base or RunConfig(), repeats=DEFAULT_REPEATS if repeats is None else repeats, quick=quick
    )
    return run(name, options)


def load_run(path: str | Path) -> RunRecord:
    """A finished run folder read back: `.meta` (config.json), `.config`, `.summary`, `.history`."""
    from cnnlab.core.runs.folders import read_run

    return read_run(path)


def _run_kind(record: RunRecord) -> RunKind:
    """The registered kind of a run folder (both parts register theirs when first asked)."""
    import cnnlab.art.kinds  # noqa: F401 - registers the Part 1 run kinds
    import cnnlab.faces.kinds  # noqa: F401 - registers the Part 2 run kinds
    from cnnlab.core.runs.kinds import run_kind

    return run_kind(record.kind, record.path)


def load_model(path: str | Path) -> nn.Module:
    """The trained network of a run folder, in eval mode: a Part 1 SimpleCNN, or a Part 2 face model."""
    from cnnlab.core.runs.folders import read_run

    record = read_run(path)
    kind = _run_kind(record)
    if kind.load_model is None:
        raise DataError(f"run folder {record.path}: a {kind.name} run has no network to load")
    return kind.load_model(record.path)


def inspect(
    run: str | Path,
    *,
    split: str = "test",
    out: str | Path = DEFAULT_OUT,
    device: str = DEFAULT_DEVICE,
    method: str | None = None,
) -> InspectResult:
    """Diagnostics of a finished classification run (Part 1 or Part 2; nothing is retrained), written to
    <run>/diagnostics/: confusion matrix, per-class metrics, most confused pairs, top losses, saliency, and for
    Part 1 CNNs the first-layer filters and feature maps.

    `run` is a run folder or a run id (or unique prefix) in `out`; `split` is "test", "val" or "both";
    `method` is an attribution method of `cnnlab explain` (default: saliency for paintings, guided-backprop
    for faces). Returns the folder and each split's SplitDiagnostics (`.splits`).
    """
    from cnnlab.core.runs.catalog import find_run
    from cnnlab.core.runs.folders import read_run

    record = read_run(find_run(out, str(run)))
    kind = _run_kind(record)
    if kind.inspect is None:
        raise DataError(f"run folder {record.path}: a {kind.name} run has no network to inspect")
    return kind.inspect(record.path, split, device=device, **({"method": method} if method else {}))


def build_report(
    *,
    quick: bool = False,
    out: str | Path = DEFAULT_OUT,
    report_dir: str | Path = "report",
    device: str = DEFAULT_DEVICE,
    jobs: int | None = None,
    **options: Any,
) -> ReportResult:
    """Run (or reuse) every experiment and write report_dir/report.tex and report.pdf.

    Further keyword options are those of `cnnlab.report.ReportOptions` (seeds, repeats, trials, faces, ...).
    """
    from cnnlab.core.runtime import RuntimeOptions
    from cnnlab.report import ReportOptions
    from cnnlab.report import build_report as build

    runtime = RuntimeOptions(out=Path(out), device=device, **({"jobs": jobs} if jobs is not None else {}))
    return build(ReportOptions(runtime=runtime, report_dir=Path(report_dir), quick=quick, **options))
