"""What `cnnlab report` runs and where it writes: ReportOptions (validated, frozen)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnlab.art.repeats import DEFAULT_REPEATS, DEFAULT_TRIALS
from cnnlab.core.config import as_ids
from cnnlab.core.errors import ConfigError
from cnnlab.core.runtime import RuntimeOptions, RuntimeView, check_jobs
from cnnlab.faces.suite import DEFAULT_FACES, DEFAULT_SEEDS, DEFAULT_WEIGHTS, alexnet_size, check_part2_sources

if TYPE_CHECKING:
    from cnnlab.report.context import ReportContext

# Part 2's defaults and quick-mode constants are Part 2's own (cnnlab.faces.suite); the report reads them there.
__all__ = ["DEFAULT_FACES", "DEFAULT_SEEDS", "DEFAULT_WEIGHTS", "ReportOptions", "ReportResult"]


@dataclass(frozen=True)
class ReportOptions(RuntimeView):
    """Everything `build_report` needs.

    runtime: the runs folder (runs are reused from it), device, threads, jobs and Part 1 data;
    report_dir: where report.tex/.pdf go.
    repeats: Part 1 repeats per variant (a count or the ids; repeat r = seed r on validation fold
    r mod data.folds); seeds: Part 2 seeds per model. quick: the first repeat and seed alone, few
    epochs, small face subset (a smoke test). train=False renders from the runs
    folder as it is (no training; fails if a needed result is missing). weights: "auto" (ImageNet
    weights from the torch hub cache if present, else an untrained AlexNet, said so everywhere),
    "random" (untrained AlexNet), "download" (hub cache or download), or a path to a state dict.
    callbacks: training callbacks added to every run trained (e.g. TensorBoard logging; they must pickle).
    search_storage/search_study: read the 1.6 search from a study made by `cnnlab sweep` (on any number of
    machines) instead of running one; its best configuration is retrained on the report's repeats.
    """

    runtime: RuntimeOptions = field(default_factory=RuntimeOptions)
    report_dir: Path = Path("report")
    quick: bool = False
    seeds: tuple[int, ...] | int = DEFAULT_SEEDS
    repeats: tuple[int, ...] | int = DEFAULT_REPEATS
    trials: int = DEFAULT_TRIALS
    style: Path | None = None
    compile: bool = True
    train: bool = True
    faces: str = DEFAULT_FACES
    weights: str = DEFAULT_WEIGHTS
    callbacks: tuple[Any, ...] = ()
    search_storage: str | None = None  # 1.6 from a shared study: its Optuna storage URL (default: <out>/optuna.db)
    search_study: str | None = None  # 1.6 from a shared study made by `cnnlab sweep`: its name

    def __post_init__(self) -> None:
        from cnnlab.art.suites.common import check_search_source  # here: importing the suites imports torch

        check_search_source(self.search_storage, self.search_study)
        object.__setattr__(self, "report_dir", Path(self.report_dir))
        object.__setattr__(self, "callbacks", tuple(self.callbacks))
        object.__setattr__(self, "seeds", as_ids(self.seeds, "--seeds", "seed"))
        object.__setattr__(self, "repeats", as_ids(self.repeats, "--repeats", "repeat"))
        check_jobs(self.trials, "--trials")
        if self.style is not None:
            style = Path(self.style)
            if style.suffix != ".sty":
                raise ConfigError(f"--style must be a LaTeX .sty file, got {style}")
            if not style.is_file():
                raise ConfigError(f"style file not found: {style}")
            object.__setattr__(self, "style", style)
        check_part2_sources(self.faces, self.weights)
        out, report = self.out_root.resolve(), self.report_dir.resolve()
        if report == out:
            raise ConfigError("--report-dir must differ from the runs folder --out")
        if report in out.parents:
            raise ConfigError(
                f"--out {self.out_root} is inside --report-dir {self.report_dir}: keep the runs folder "
                "outside the report folder"
            )

    @property
    def run_seeds(self) -> tuple[int, ...]:
        """The seeds every configuration runs with: the first alone in quick mode."""
        return self.seeds[:1] if self.quick else self.seeds

    @property
    def n_seeds(self) -> int:
        return len(self.run_seeds)

    @property
    def run_repeats(self) -> tuple[int, ...]:
        """The Part 1 repeats every variant runs: the first alone in quick mode."""
        return self.repeats[:1] if self.quick else self.repeats

    @property
    def alexnet_size(self) -> int:
        return alexnet_size(self.quick)

    @property
    def assets_dir(self) -> Path:
        """<out>/report-assets: the Part 2 manifest and the figures made from data and checkpoints."""
        return self.out_root / "report-assets"


@dataclass
class ReportResult:
    """What `build_report` returns: the report folder, the paper's and the supplement's .tex and .pdf and their
    pages, a message and timings."""

    report_dir: Path
    tex: Path
    pdf: Path | None  # None: not compiled (--no-compile, or no TeX installed)
    pages: int | None
    message: str  # what happened, e.g. how to compile when TeX is missing
    supplement_tex: Path | None = None
    supplement: Path | None = None  # supplement.pdf; None when the paper is not compiled
    supplement_pages: int | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    context: ReportContext | None = field(default=None, repr=False)  # what the sections read
