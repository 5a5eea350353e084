"""The report's context: everything the renderer sees, read from a runs folder into frozen dataclasses.

Nothing here trains. `load_context(out_root)` reads a runs folder (or a fixture that imitates one), so a report can be
rebuilt from the folder alone; every file is validated on the way in (`cnnlab.report.reading`: a damaged file is a
one-line CnnlabError naming it). Sources:
  <out>/suites/<name>/suite.json      Part 1 suites (rows with mean/std/n, per-repeat values and run ids, findings, extras)
  <out>/report-assets/manifest.json   Part 2 run ids, data provenance, asset figures (collect.py)
  <out>/<run id>/summary.json, metrics.jsonl   each run's numbers and learning curves

The shape: `ReportContext` = the report's facts (version, quick, repeats, seeds, devices, figures) + `Part1Context` +
`Part2Context`. What is genuinely open-ended stays a mapping as the runs folder writes it (a suite's meta and rows, a
manifest section); a Part 2 model over its seeds is a `RunGroup`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnlab.art.suites.common import SUITE_ORDER
from cnnlab.core.errors import CnnlabError
from cnnlab.core.stats import aggregate, mean_curves
from cnnlab.faces.run_configs import WEIGHT_STUDY_HIDDEN, MLPConfig
from cnnlab.faces.suite import mlp_group
from cnnlab.report import reading

if TYPE_CHECKING:
    from cnnlab.report.supplement import Placement

MAIN_MLP = MLPConfig().hidden  # 2.1's MLP (300 hidden units); 2.3 compares it with the others of WEIGHT_STUDY_HIDDEN


# The Part 2 groups in the report's order: the manifest's part2 section and key ("mlp", "300") or ("cnn", None).
PART2_GROUPS: dict[str, tuple[str, str | None]] = {
    **{mlp_group(h): ("mlp", str(h)) for h in WEIGHT_STUDY_HIDDEN},
    "cnn": ("cnn", None),
    "features": ("features", None),
    "finetune": ("finetune", None),
}
_METRICS = ("train_acc", "val_acc", "test_acc", "epochs_run", "train_seconds")  # aggregated over a group's seeds
_SUMMARY_KEYS = (
    "model",
    "description",
    "alexnet",
    "layer",
    "feature_dim",
    "freeze",
    "epochs_run",
    "best_epoch",
    "selected_by",
    "architecture",
    "init",
    "warning",
    "weight_unit_rule",
    "train_seconds",
    "trained_layers",
    "frozen_layers",
    "params",
)
_START = ("train_acc", "val_acc", "test_acc")  # of the 2.2 network a fine-tuning started from (summary "start")


@dataclass(frozen=True)
class RunGroup:
    """One Part 2 model over its seeds.

    stats: `core.stats.aggregate` of the seeds ("n", "<metric>_mean", "<metric>_std"); summary: the first seed's
    summary facts (_SUMMARY_KEYS); per_seed: {"val_acc", "test_acc": one value per seed} for paired tests;
    start: the aggregate of the 2.2 networks a fine-tuning started from (None otherwise), gains: its per-seed
    differences; config: the first seed's resolved config; curve: the mean learning curve (`core.stats.mean_curves`).
    """

    stats: Mapping[str, float]
    run_ids: tuple[str, ...]
    summary: Mapping[str, Any]
    best_epochs: tuple[Any, ...]
    per_seed: Mapping[str, list[float]]
    config: Mapping[str, Any]
    curve: Mapping[str, Any]
    start: Mapping[str, float] | None = None
    gains: Mapping[str, list[float]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.stats["n"])

    def mean(self, metric: str) -> float:
        return self.stats[f"{metric}_mean"]


@dataclass(frozen=True)
class Part1Context:
    """Part 1: the art data (the manifest's art section), the starter network (question 1.2, `reading.network_facts`),
    each suite's suite.json (rows and extras), the starter's mean learning curve and the best model's diagnostics."""

    art: Mapping[str, Any]
    network: Mapping[str, Any]
    suites: Mapping[str, Mapping[str, Any]]
    baseline_curve: Mapping[str, Any]
    diagnostics: Mapping[str, Any]

    @property
    def synthetic(self) -> bool:
        return bool(self.art["synthetic"])


@dataclass(frozen=True)
class Part2Context:
    """Part 2: the faces and AlexNet weights used, one RunGroup per model, and the manifest's sections on the 2.1
    recipe grid, the layer sweep, 2.4's range test, the hidden units, guided backprop, the prediction example and
    the best face model's diagnostics."""

    faces: Mapping[str, Any]
    alexnet: Mapping[str, Any]
    mlp: Mapping[int, RunGroup]  # by hidden units (WEIGHT_STUDY_HIDDEN)
    cnn: RunGroup
    features: RunGroup
    finetune: RunGroup
    recipes: Mapping[str, Any]
    depth: Mapping[str, Any]
    finetune_lr: Mapping[str, Any] | None
    mlp_units: Mapping[str, Any]
    explain: Mapping[str, Any]
    predict: Mapping[str, Any]
    face_diagnostics: Mapping[str, Any]

    @property
    def pretrained(self) -> bool:
        """Whether AlexNet had ImageNet weights (else it is untrained, and every text says so)."""
        return bool(self.alexnet.get("pretrained"))

    @property
    def main_mlp(self) -> RunGroup:
        """2.1's MLP (MAIN_MLP hidden units)."""
        return self.mlp[MAIN_MLP]

    @property
    def wide_mlp(self) -> RunGroup:
        """2.3's wider MLP (the last of WEIGHT_STUDY_HIDDEN)."""
        return self.mlp[WEIGHT_STUDY_HIDDEN[-1]]

    @property
    def groups(self) -> dict[str, RunGroup]:
        """Every group by its report name (PART2_GROUPS), in the report's order."""
        named = {"cnn": self.cnn, "features": self.features, "finetune": self.finetune}
        return {**{mlp_group(h): g for h, g in self.mlp.items()}, **named}


@dataclass(frozen=True)
class ReportContext:
    """What the renderer sees. placement: where each float goes (`report.supplement`), set by `render.render_tex`
    for one rendering (None: every float where it is written)."""

    version: str
    quick: bool
    seeds: int  # Part 2 seeds per model
    repeats: int  # Part 1 repeats per variant
    timings: Mapping[str, Any]
    runs_root: str
    devices: tuple[str, ...]
    part1: Part1Context
    part2: Part2Context
    figures: Mapping[str, str]  # {figure key: path of an asset figure in report-assets}
    placement: Placement | None = None

    def __getitem__(self, key: str) -> Any:
        """The plain dict this context used to be (`ReportResult.context["quick"]`): deprecated, for one release."""
        warnings.warn(
            "indexing the report context is deprecated: read its attributes (ctx.quick, ctx.part1.suites, "
            "ctx.part2.finetune, ...)",
            DeprecationWarning,
            stacklevel=2,
        )
        return _as_dict(self)[key]


def _as_dict(ctx: ReportContext) -> dict[str, Any]:
    """The context as the plain dict of earlier versions (for the deprecated `ReportContext.__getitem__`)."""
    p1, p2 = ctx.part1, ctx.part2
    groups = {
        name: {
            **g.stats,
            "run_ids": list(g.run_ids),
            "summary": g.summary,
            "best_epochs": list(g.best_epochs),
            "per_seed": g.per_seed,
            **({"start": g.start, "gains": g.gains} if g.start is not None else {}),
            "config": g.config,
            "curve": g.curve,
        }
        for name, g in p2.groups.items()
    }
    same = ("version", "quick", "seeds", "repeats", "timings", "runs_root", "figures")
    part2 = ("faces", "alexnet", "recipes", "depth", "finetune_lr", "mlp_units", "explain", "predict")
    return {
        **{k: getattr(ctx, k) for k in same},
        "devices": list(ctx.devices),
        **{k: getattr(p1, k) for k in ("art", "network", "suites", "diagnostics")},
        "curves": {"baseline": p1.baseline_curve},
        **{k: getattr(p2, k) for k in (*part2, "face_diagnostics")},
        "part2": groups,
    }


def _group(root: Path, name: str, ids: list, source: Path) -> RunGroup:
    """The RunGroup of runs `ids` (named by `source`), each summary checked."""
    if not ids:
        raise CnnlabError(f"report manifest lists no {name} runs")
    summaries = [reading.run_summary(root, rid, source, ("train_acc", "val_acc", "test_acc")) for rid in ids]
    starts = [s["start"] for s in summaries if isinstance(s.get("start"), dict)]
    start, gains = None, {}
    if len(starts) == len(summaries) and all(isinstance(st.get(k), (int, float)) for st in starts for k in _START):
        start = aggregate(starts, _START)  # fine-tuning from 2.2: where each seed started
        gains = {k: [s[k] - st[k] for s, st in zip(summaries, starts)] for k in ("val_acc", "test_acc")}  # by seed
    config_file = root / ids[0] / "config.json"
    return RunGroup(
        stats=aggregate(summaries, _METRICS),
        run_ids=tuple(ids),
        summary={k: summaries[0][k] for k in _SUMMARY_KEYS if k in summaries[0]},
        best_epochs=tuple(s.get("best_epoch") for s in summaries),
        per_seed={k: [float(s[k]) for s in summaries] for k in ("val_acc", "test_acc")},
        config=reading.read_json(config_file, "run config").get("config", {}) if config_file.is_file() else {},
        curve=mean_curves([reading.read_history(root / rid) for rid in ids], ("train_acc", "val_acc", "test_acc")),
        start=start,
        gains=gains,
    )


def _part2(root: Path, manifest: Mapping[str, Any], source: Path) -> Part2Context:
    groups = {}
    for name, (section, key) in PART2_GROUPS.items():
        ids = manifest["part2"][section]
        groups[name] = _group(root, name, ids[key] if key else ids, source)
    finetune_lr = manifest.get("finetune_lr")
    return Part2Context(
        faces=manifest["faces"],
        alexnet=manifest["alexnet"],
        mlp={h: groups[mlp_group(h)] for h in WEIGHT_STUDY_HIDDEN},
        cnn=groups["cnn"],
        features=groups["features"],
        finetune=groups["finetune"],
        recipes=manifest["recipes"],
        depth=manifest["depth"],
        finetune_lr=finetune_lr if isinstance(finetune_lr, dict) else None,
        mlp_units=manifest["mlp_units"],
        explain=manifest["explain"],
        predict=manifest["predict"],
        face_diagnostics=manifest["face_diagnostics"],
    )


def load_context(out_root: str | Path) -> ReportContext:
    """The context of a report from the runs folder `out_root` (see the module docstring)."""
    root = Path(out_root)
    if not root.is_dir():
        raise CnnlabError(f"runs folder not found: {root}")
    source = reading.manifest_path(root)
    manifest = reading.read_json(source, "report manifest")
    reading.check_manifest(manifest, source)
    suites = {name: reading.read_suite(root, name) for name in SUITE_ORDER}
    base_file = root / "suites" / "baseline" / "suite.json"
    base_meta = reading.read_json(base_file, "suite result 'baseline'")
    if not isinstance(base_meta.get("base_config"), dict):
        raise CnnlabError(f"{base_file} lacks its base_config")
    network = reading.network_facts(base_meta["base_config"])
    baseline_runs = [root / rid for rid in suites["baseline"]["rows"][0]["run_ids"]]
    baseline_curve = mean_curves(
        [reading.read_history(p) for p in baseline_runs], ("train_acc", "val_acc", "train_loss", "val_loss")
    )
    part2 = _part2(root, manifest, source)

    assets = root / "report-assets"
    figures = {
        "art_overview": assets / manifest["art"]["figure"],
        "mlp_units": assets / manifest["mlp_units"]["figure"],
        "guided_backprop": assets / manifest["explain"]["figure"],
        "predict_face": assets / manifest["predict"]["image"],
    }
    figures.update(reading.diagnostic_figures(manifest, assets))
    for name, p in figures.items():
        if not p.is_file():
            raise CnnlabError(f"report figure {name} not found: {p}")
    part1 = Part1Context(
        art=manifest["art"],
        network=network,
        suites=suites,
        baseline_curve=baseline_curve,
        diagnostics=manifest["art"]["diagnostics"],
    )
    run_ids = [rid for s in suites.values() for r in s["rows"] for rid in r.get("run_ids", [])]
    return ReportContext(
        version=manifest.get("version", ""),
        quick=bool(manifest.get("quick")),
        seeds=int(manifest.get("seeds", 1)),
        repeats=int(manifest.get("repeats", suites["baseline"]["rows"][0]["n"])),
        timings=manifest.get("timings", {}),
        runs_root=str(root),
        devices=tuple(reading.run_devices(root, run_ids + [rid for g in part2.groups.values() for rid in g.run_ids])),
        part1=part1,
        part2=part2,
        figures={k: str(v) for k, v in figures.items()},
    )
