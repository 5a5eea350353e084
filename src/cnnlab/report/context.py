"""Read a runs folder into the report's context: a plain dict of numbers, texts, run ids and paths.

Nothing here trains. The context is all the renderer sees, so a report can be rebuilt from a runs
folder (or a fixture that imitates one) alone. Everything read is validated: a damaged file is a
one-line CnnlabError naming it, never a traceback or a silently wrong report. Sources:
  <out>/suites/<name>/suite.json      Part 1 suites (rows with mean/std/n, per-repeat values and run ids, findings, extras)
  <out>/report-assets/manifest.json   Part 2 run ids, data provenance, asset figures (collect.py)
  <out>/<run id>/summary.json, metrics.jsonl   each run's numbers and learning curves
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from cnnlab.art.suites.common import SUITE_ORDER
from cnnlab.core import readback
from cnnlab.core.errors import CnnlabError, first_line
from cnnlab.core.stats import aggregate, mean_curves

PART2_GROUPS = {
    "mlp300": ("mlp", "300"),
    "mlp800": ("mlp", "800"),
    "cnn": ("cnn", None),
    "features": ("features", None),
    "finetune": ("finetune", None),
}
_METRICS = (
    "train_acc",
    "val_acc",
    "test_acc",
    "epochs_run",
    "train_seconds",
)  # aggregated over the seeds of a Part 2 group
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


def _read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object read from `path`; a missing, unreadable or non-object file is a one-line error naming it."""
    if not path.is_file():
        raise CnnlabError(f"{what} not found: {path} (run `cnnlab report` without --no-train to produce it)")
    try:
        obj = readback.load_json(path, what)
    except (OSError, ValueError) as exc:  # readback.UntrustedData is a ValueError
        raise CnnlabError(f"cannot read {what} {path}: {first_line(exc)}") from None
    if not isinstance(obj, dict):
        raise CnnlabError(f"{what} {path} does not hold a JSON object")
    return obj


def _history(run: Path) -> list[dict]:
    path = run / "metrics.jsonl"
    if not path.is_file():
        raise CnnlabError(f"learning curve not found: {path}")
    try:
        rows = readback.load_jsonl(path, "learning curve")
    except (OSError, ValueError) as exc:
        raise CnnlabError(f"cannot read learning curve {path}: {first_line(exc)}") from None
    if not all(isinstance(r, dict) for r in rows):
        raise CnnlabError(f"learning curve {path} has a line that is not a JSON object")
    return rows


def _run_summary(root: Path, rid: Any, source: Path, metrics: tuple[str, ...] = ()) -> dict[str, Any]:
    """The summary.json of run `rid` named by `source`, checked: it is that run's, with finite `metrics`."""
    if not isinstance(rid, str) or not rid or "/" in rid or rid in (".", ".."):
        raise CnnlabError(f"{source} names an invalid run id {str(rid)[:40]!r}")
    if not (root / rid).is_dir():
        raise CnnlabError(f"run folder {root / rid} (named by {source}) not found")
    path = root / rid / "summary.json"
    summary = _read_json(path, "run summary")
    if summary.get("run_id") != rid:
        raise CnnlabError(f"run summary {path} is not that run's (run_id {str(summary.get('run_id'))[:40]!r})")
    for key in metrics:
        value = summary.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise CnnlabError(f"run summary {path} lacks a finite {key}")
    return summary


_MANIFEST_SECTIONS = {
    "art": "figure",
    "faces": None,
    "alexnet": None,
    "mlp_units": "figure",
    "explain": "figure",
    "predict": "image",
}


def _check_manifest(manifest: dict[str, Any], path: Path) -> None:
    """The manifest's sections are objects, its figure names plain file names, its Part 2 run ids lists."""
    for section, figure in _MANIFEST_SECTIONS.items():
        if not isinstance(manifest.get(section), dict):
            raise CnnlabError(f"report manifest {path} lacks its {section} section")
        name = manifest[section].get(figure) if figure else ""
        if not isinstance(name, str) or "/" in name or "\\" in name or name in (".", ".."):
            raise CnnlabError(f"report manifest {path}: {section}.{figure} must be a file name in report-assets")
    part2 = manifest.get("part2")
    lists = (
        [
            part2.get("features"),
            part2.get("finetune"),
            part2.get("cnn"),
            *((part2.get("mlp") or {}).get(h) for h in ("300", "800")),
        ]
        if isinstance(part2, dict) and isinstance(part2.get("mlp", {}), dict)
        else [None]
    )
    if not all(isinstance(ids, list) for ids in lists):
        raise CnnlabError(
            f"report manifest {path}: part2 must list the run ids of mlp 300/800, cnn, features and finetune"
        )
    _check_rows(manifest.get("recipes"), ("recipe", "val_acc_mean", "val_acc_se", "n", "chosen"), "recipes", path)
    _check_rows(manifest.get("depth"), ("layer", "feature_dim", "test_acc_mean", "test_acc_se", "n"), "depth", path)


def _check_rows(section: Any, keys: tuple[str, ...], name: str, path: Path) -> None:
    """A manifest section {"rows": [{key: value, ...}, ...], ...} whose every row has `keys`."""
    rows = section.get("rows") if isinstance(section, dict) else None
    if (
        not isinstance(rows, list)
        or not rows
        or not all(isinstance(r, dict) and all(k in r for k in keys) for r in rows)
    ):
        raise CnnlabError(f"report manifest {path}: {name} must hold rows with {', '.join(keys)}")


def _network(base_config: dict) -> dict[str, Any]:
    """Question 1.2: the starter network's layers, activation, loss and optimizer (no training)."""
    from cnnlab.art.config import RunConfig
    from cnnlab.art.models import count_parameters, create_model, describe_layers
    from cnnlab.art.models.receptive import layers_from_config, parse_spec, receptive_field
    from cnnlab.core.config import from_dict

    config = from_dict(RunConfig, base_config)
    size = config.data.image_size
    model = create_model(config.model.name, num_classes=11, config=config.model, image_size=size)
    layers = [
        {
            "name": r["name"],
            "type": r["type"],
            "detail": r["detail"],
            "output": list(r["output_shape"]),
            "params": int(r["params"]),
            "macs": int(r["macs"]),
        }
        for r in describe_layers(model, (3, size, size))
    ]
    opt, train = config.train.optimizer, config.train
    fields = lambda infos: [{"layer": i.layer, "size": i.size, "jump": i.jump} for i in infos]  # noqa: E731
    return {
        "layers": layers,
        "params": count_parameters(model),
        "input": [3, size, size],
        "test_fraction": config.data.test_fraction,
        "folds": config.data.folds,
        "activation": config.model.activation,
        "dropout": config.model.dropout,
        "pool": config.model.pool,
        "optimizer": {"name": opt.name, "lr": opt.lr, "weight_decay": opt.weight_decay, "momentum": opt.momentum},
        "batch_size": train.batch_size,
        "epochs": train.epochs,
        "scheduler": train.scheduler.name,
        "early_stopping": train.early_stopping.patience,
        "receptive_question": fields(receptive_field(parse_spec("conv5,conv3"))),
        "receptive_starter": fields(receptive_field(layers_from_config(config.model))),
    }


def _suite(root: Path, name: str) -> dict[str, Any]:
    path = root / "suites" / name / "suite.json"
    meta = _read_json(path, f"suite result {name!r}")
    rows = []
    if not isinstance(meta.get("rows", []), list):
        raise CnnlabError(f"{path}: rows must be a list")
    for r in meta.get("rows", []):
        missing = [
            k
            for k in ("variant", "group", "n", "train_acc_mean", "val_acc_mean", "run_ids")
            if not isinstance(r, dict) or k not in r
        ]
        if missing:
            raise CnnlabError(f"{path}: a row lacks {', '.join(missing)}")
        if not isinstance(r["run_ids"], list):
            raise CnnlabError(f"{path}: run_ids of {str(r['variant'])[:40]!r} must be a list")
        for rid in r["run_ids"]:  # every number must trace back to a run folder that is intact
            _run_summary(root, rid, path)
        rows.append({k: v for k, v in r.items() if k != "run_paths"})
    out = {k: v for k, v in meta.items() if k not in ("rows", "best_config", "base_config")}
    out["rows"] = rows
    if name == "search" and "best_config" in meta:
        out["best_config"] = meta["best_config"]
    return out


def _diagnostic_figures(manifest: dict, assets: Path) -> dict[str, Path]:
    """The diagnostics figures of cnnlab.report.figures.key_runs named in the manifest (the top-losses strip only
    when the best model made mistakes)."""
    for key, where in (("diagnostics", manifest.get("art", {})), ("face_diagnostics", manifest)):
        if key not in where:
            raise CnnlabError(
                f"the report manifest has no {key} (written by an older cnnlab: run `cnnlab report` without --no-train)"
            )
    diag = manifest["art"]["diagnostics"]
    named = {
        "confusion_best": (diag, "best"),
        "filters_starter": (diag, "filters"),
        "top_losses_best": (diag, "top_losses"),
        "confusion_faces": (manifest, "face_diagnostics"),
    }
    out = {}
    for key, (where, section) in named.items():
        if key == "top_losses_best" and section not in where:
            continue  # no mistakes to show
        name = where.get(section, {}).get("figure") if isinstance(where.get(section), dict) else None
        if not isinstance(name, str) or "/" in name or "\\" in name or name in ("", ".", ".."):
            raise CnnlabError(f"report manifest: {section}.figure must be a file name in report-assets")
        out[key] = assets / name
    return out


def _devices(root: Path, run_ids: list[str]) -> list[str]:
    """The devices the report's runs trained on, as their summaries record them (runs of cnnlab 0.2: "cpu")."""
    found = set()
    for rid in run_ids:
        try:
            summary = readback.load_json(root / rid / "summary.json")
        except (OSError, ValueError):
            continue  # a missing or damaged run is reported where its numbers are read
        found.add(str(summary.get("device", "cpu")) if isinstance(summary, dict) else "cpu")
    return sorted(found)


def load_context(out_root: str | Path) -> dict[str, Any]:
    """The context of a report from the runs folder `out_root` (see the module docstring)."""
    from cnnlab.report.collect import manifest_path

    root = Path(out_root)
    if not root.is_dir():
        raise CnnlabError(f"runs folder not found: {root}")
    manifest = _read_json(manifest_path(root), "report manifest")
    _check_manifest(manifest, manifest_path(root))
    suites = {name: _suite(root, name) for name in SUITE_ORDER}
    base_meta = _read_json(root / "suites" / "baseline" / "suite.json", "suite result 'baseline'")
    if not isinstance(base_meta.get("base_config"), dict):
        raise CnnlabError(f"{root / 'suites' / 'baseline' / 'suite.json'} lacks its base_config")
    network = _network(base_meta["base_config"])

    baseline_runs = [root / rid for rid in suites["baseline"]["rows"][0]["run_ids"]]
    curves = {
        "baseline": mean_curves(
            [_history(p) for p in baseline_runs], ("train_acc", "val_acc", "train_loss", "val_loss")
        )
    }

    part2: dict[str, Any] = {}
    for key, (role, sub) in PART2_GROUPS.items():
        ids = manifest["part2"][role]
        ids = ids[sub] if sub else ids
        if not ids:
            raise CnnlabError(f"report manifest lists no {key} runs")
        summaries = [_run_summary(root, rid, manifest_path(root), ("train_acc", "val_acc", "test_acc")) for rid in ids]
        group: dict[str, Any] = aggregate(summaries, _METRICS)
        group["run_ids"] = list(ids)
        group["summary"] = {k: summaries[0][k] for k in _SUMMARY_KEYS if k in summaries[0]}
        group["best_epochs"] = [s.get("best_epoch") for s in summaries]
        group["per_seed"] = {k: [float(s[k]) for s in summaries] for k in ("val_acc", "test_acc")}  # for paired tests
        starts = [s["start"] for s in summaries if isinstance(s.get("start"), dict)]
        if len(starts) == len(summaries) and all(isinstance(st.get(k), (int, float)) for st in starts for k in _START):
            group["start"] = aggregate(starts, _START)  # fine-tuning from 2.2: where each seed started
            group["gains"] = {
                k: [s[k] - st[k] for s, st in zip(summaries, starts)] for k in ("val_acc", "test_acc")
            }  # paired by seed
        config_file = root / ids[0] / "config.json"
        group["config"] = _read_json(config_file, "run config").get("config", {}) if config_file.is_file() else {}
        group["curve"] = mean_curves([_history(root / rid) for rid in ids], ("train_acc", "val_acc", "test_acc"))
        part2[key] = group

    assets = root / "report-assets"
    figures = {
        "art_overview": assets / manifest["art"]["figure"],
        "mlp_units": assets / manifest["mlp_units"]["figure"],
        "guided_backprop": assets / manifest["explain"]["figure"],
        "predict_face": assets / manifest["predict"]["image"],
    }
    figures.update(_diagnostic_figures(manifest, assets))
    for name, p in figures.items():
        if not p.is_file():
            raise CnnlabError(f"report figure {name} not found: {p}")
    return {
        "version": manifest.get("version", ""),
        "quick": bool(manifest.get("quick")),
        "seeds": int(manifest.get("seeds", 1)),  # Part 2 seeds per model
        "repeats": int(manifest.get("repeats", suites["baseline"]["rows"][0]["n"])),  # Part 1 repeats per variant
        "timings": manifest.get("timings", {}),
        "runs_root": str(root),
        "devices": _devices(
            root,
            [rid for s in suites.values() for r in s["rows"] for rid in r.get("run_ids", [])]
            + [rid for g in part2.values() for rid in g["run_ids"]],
        ),
        "art": manifest["art"],
        "faces": manifest["faces"],
        "alexnet": manifest["alexnet"],
        "network": network,
        "suites": suites,
        "curves": curves,
        "part2": part2,
        "recipes": manifest["recipes"],
        "depth": manifest["depth"],
        "finetune_lr": manifest.get("finetune_lr") if isinstance(manifest.get("finetune_lr"), dict) else None,
        "mlp_units": manifest["mlp_units"],
        "explain": manifest["explain"],
        "predict": manifest["predict"],
        "diagnostics": manifest["art"]["diagnostics"],
        "face_diagnostics": manifest["face_diagnostics"],
        "figures": {k: str(v) for k, v in figures.items()},
    }
