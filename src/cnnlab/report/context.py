"""Read a runs folder into the report's context: a plain dict of numbers, texts, run ids and paths.

Nothing here trains. The context is all the renderer sees, so a report can be rebuilt from a runs
folder (or a fixture that imitates one) alone. Sources:
  <out>/suites/<name>/suite.json      Part 1 suites (rows with mean/std/n, per-repeat values and run ids, findings, extras)
  <out>/report-assets/manifest.json   Part 2 run ids, data provenance, asset figures (collect.py)
  <out>/<run id>/summary.json, metrics.jsonl   each run's numbers and learning curves
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cnnlab.art.suites.common import SUITE_ORDER
from cnnlab.core.errors import CnnlabError
from cnnlab.core.stats import aggregate, mean_curves

PART2_GROUPS = {"mlp300": ("mlp", "300"), "mlp800": ("mlp", "800"), "features": ("features", None), "finetune": ("finetune", None)}
_METRICS = ("train_acc", "val_acc", "test_acc", "epochs_run", "train_seconds")  # aggregated over the seeds of a Part 2 group
_SUMMARY_KEYS = ("model", "description", "alexnet", "layer", "feature_dim", "freeze", "epochs_run", "best_epoch", "selected_by",
                 "architecture", "init", "warning", "weight_unit_rule", "train_seconds")


def _read_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise CnnlabError(f"{what} not found: {path} (run `cnnlab report` without --no-train to produce it)")
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CnnlabError(f"cannot read {what} {path}: {exc}") from None


def _history(run: Path) -> list[dict]:
    path = run / "metrics.jsonl"
    if not path.is_file():
        raise CnnlabError(f"learning curve not found: {path}")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _network(base_config: dict) -> dict[str, Any]:
    """Question 1.2: the starter network's layers, activation, loss and optimizer (no training)."""
    from cnnlab.art.config import RunConfig
    from cnnlab.core.config import from_dict
    from cnnlab.art.models import count_parameters, create_model, describe_layers
    from cnnlab.art.receptive import layers_from_config, parse_spec, receptive_field

    config = from_dict(RunConfig, base_config)
    size = config.data.image_size
    model = create_model(config.model.name, num_classes=11, config=config.model, image_size=size)
    layers = [{"name": r["name"], "type": r["type"], "detail": r["detail"], "output": list(r["output_shape"]),
               "params": int(r["params"]), "macs": int(r["macs"])} for r in describe_layers(model, (3, size, size))]
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
    meta = _read_json(root / "suites" / name / "suite.json", f"suite result {name!r}")
    rows = []
    for r in meta.get("rows", []):
        missing = [k for k in ("variant", "group", "n", "train_acc_mean", "val_acc_mean", "run_ids") if k not in r]
        if missing:
            raise CnnlabError(f"{root / 'suites' / name / 'suite.json'}: a row lacks {', '.join(missing)}")
        rows.append({k: v for k, v in r.items() if k != "run_paths"})
    out = {k: v for k, v in meta.items() if k not in ("rows", "best_config", "base_config")}
    out["rows"] = rows
    if name == "search" and "best_config" in meta:
        out["best_config"] = meta["best_config"]
    return out


def load_context(out_root: str | Path) -> dict[str, Any]:
    """The context of a report from the runs folder `out_root` (see the module docstring)."""
    from cnnlab.report.collect import manifest_path

    root = Path(out_root)
    if not root.is_dir():
        raise CnnlabError(f"runs folder not found: {root}")
    manifest = _read_json(manifest_path(root), "report manifest")
    suites = {name: _suite(root, name) for name in SUITE_ORDER}
    base_meta = _read_json(root / "suites" / "baseline" / "suite.json", "suite result 'baseline'")
    network = _network(base_meta["base_config"])

    baseline_runs = [root / rid for rid in suites["baseline"]["rows"][0]["run_ids"]]
    curves = {"baseline": mean_curves([_history(p) for p in baseline_runs], ("train_acc", "val_acc", "train_loss", "val_loss"))}

    part2: dict[str, Any] = {}
    for key, (role, sub) in PART2_GROUPS.items():
        ids = manifest["part2"][role]
        ids = ids[sub] if sub else ids
        if not ids:
            raise CnnlabError(f"report manifest lists no {key} runs")
        summaries = [_read_json(root / rid / "summary.json", "run summary") for rid in ids]
        group: dict[str, Any] = aggregate(summaries, _METRICS)
        group["run_ids"] = list(ids)
        group["summary"] = {k: summaries[0][k] for k in _SUMMARY_KEYS if k in summaries[0]}
        config_file = root / ids[0] / "config.json"
        group["config"] = _read_json(config_file, "run config").get("config", {}) if config_file.is_file() else {}
        group["curve"] = mean_curves([_history(root / rid) for rid in ids], ("train_acc", "val_acc", "test_acc"))
        part2[key] = group

    assets = root / "report-assets"
    figures = {"art_overview": assets / manifest["art"]["figure"], "mlp_units": assets / manifest["mlp_units"]["figure"],
               "guided_backprop": assets / manifest["explain"]["figure"], "predict_face": assets / manifest["predict"]["image"]}
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
        "art": manifest["art"],
        "faces": manifest["faces"],
        "alexnet": manifest["alexnet"],
        "network": network,
        "suites": suites,
        "curves": curves,
        "part2": part2,
        "mlp_units": manifest["mlp_units"],
        "explain": manifest["explain"],
        "predict": manifest["predict"],
        "figures": {k: str(v) for k, v in figures.items()},
    }
