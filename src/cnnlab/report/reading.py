"""Read back, and validate, the files of a runs folder that the report context is built from
(`cnnlab.report.context.load_context`).

Everything read is validated: a damaged file is a one-line CnnlabError naming it, never a traceback or a
silently wrong report.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from cnnlab.core import readback
from cnnlab.core.errors import CnnlabError, first_line
from cnnlab.faces.run_configs import WEIGHT_STUDY_HIDDEN

MANIFEST = "manifest.json"


def manifest_path(out_root: str | Path) -> Path:
    """<out>/report-assets/manifest.json: the Part 2 run ids, data provenance and asset figures of a runs folder, as
    `cnnlab.report.collect` writes them."""
    return Path(out_root) / "report-assets" / MANIFEST


def read_json(path: Path, what: str) -> dict[str, Any]:
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


def read_history(run: Path) -> list[dict]:
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


def run_summary(root: Path, rid: Any, source: Path, metrics: tuple[str, ...] = ()) -> dict[str, Any]:
    """The summary.json of run `rid` named by `source`, checked: it is that run's, with finite `metrics`."""
    if not isinstance(rid, str) or not rid or "/" in rid or rid in (".", ".."):
        raise CnnlabError(f"{source} names an invalid run id {str(rid)[:40]!r}")
    if not (root / rid).is_dir():
        raise CnnlabError(f"run folder {root / rid} (named by {source}) not found")
    path = root / rid / "summary.json"
    summary = read_json(path, "run summary")
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


def check_manifest(manifest: dict[str, Any], path: Path) -> None:
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
            *((part2.get("mlp") or {}).get(str(h)) for h in WEIGHT_STUDY_HIDDEN),
        ]
        if isinstance(part2, dict) and isinstance(part2.get("mlp", {}), dict)
        else [None]
    )
    if not all(isinstance(ids, list) for ids in lists):
        raise CnnlabError(
            f"report manifest {path}: part2 must list the run ids of mlp {'/'.join(map(str, WEIGHT_STUDY_HIDDEN))}, cnn, "
            "features and finetune"
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


def network_facts(base_config: dict) -> dict[str, Any]:
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


def read_suite(root: Path, name: str) -> dict[str, Any]:
    path = root / "suites" / name / "suite.json"
    meta = read_json(path, f"suite result {name!r}")
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
            run_summary(root, rid, path)
        rows.append({k: v for k, v in r.items() if k != "run_paths"})
    out = {k: v for k, v in meta.items() if k not in ("rows", "best_config", "base_config")}
    out["rows"] = rows
    if name == "search" and "best_config" in meta:
        out["best_config"] = meta["best_config"]
    return out


def diagnostic_figures(manifest: dict, assets: Path) -> dict[str, Path]:
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


def run_devices(root: Path, run_ids: list[str]) -> list[str]:
    """The devices the report's runs trained on, as their summaries record them (runs of cnnlab 0.2: "cpu")."""
    found = set()
    for rid in run_ids:
        try:
            summary = readback.load_json(root / rid / "summary.json")
        except (OSError, ValueError):
            continue  # a missing or damaged run is reported where its numbers are read
        found.add(str(summary.get("device", "cpu")) if isinstance(summary, dict) else "cpu")
    return sorted(found)
