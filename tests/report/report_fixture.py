"""The report's test fixture: a runs folder with the structure `cnnlab report` reads, every number invented (no
training). Its numbers only have to look like results.

It is written per part, the way `cnnlab.report.context.load_context` reads it back:
  `write_suites`      suites/<name>/suite.json (rows with group, variant, n, <metric>_mean/_std, params, macs,
                      run_ids, extras) and a summary for every run a row names (Part 1)
  `write_part2_runs`  one run folder (summary.json, metrics.jsonl, config.json) per seed of every Part 2 group of
                      `cnnlab.report.context.PART2_GROUPS`: a group the report adds needs no change here
  `write_assets`      report-assets/ figures at the aspect ratios of the real ones
  `part2_manifest`    the Part 2 sections of report-assets/manifest.json (collect.py's format)
Tests that need other inputs edit the written files (bad runs folders) or pass the options of `make_fixture_runs`.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
from PIL import Image

from cnnlab.art.config import RunConfig
from cnnlab.art.transforms.course import COURSE_ORDER
from cnnlab.core.config import to_dict
from cnnlab.faces.run_configs import WEIGHT_STUDY_HIDDEN
from cnnlab.report.context import PART2_GROUPS

# Long class names (report figures must stay legible with them, and the report within 8 pages): invented ones for
# Part 1, and for Part 2 the longest FaceScrub names with invented ones up to 40 people.
LONG_ARTISTS = (
    "Bartholomew Featherstonehaugh",
    "Maximilian Wolfenstein-Ashcroft",
    "Anne-Marie Louise d'Orléans",
    "Jean-Baptiste-Camille Corot",
    "Sir Lawrence Alma-Tadema",
    "Henri de Toulouse-Lautrec",
    "Dante Gabriel Rossetti",
    "Pierre-Auguste Renoir",
    "Gwendolyn Throckmorton-Smythe",
    "Cornelius Vanderbilt-Whitney",
    "Evangeline Montgomery-Clarke",
    "Thaddeus Worthington III",
)
LONG_PEOPLE = (
    "Christina Applegate",
    "Julianna Margulies",
    "Kristin Chenoweth",
    "Michael Weatherly",
    "Gerard Butler",
    "Daniel Radcliffe",
    "America Ferrera",
    *(
        f"{a} {b}"
        for a in ("Bartholomew", "Gwendolyn", "Maximilian", "Evangeline", "Cornelius", "Theodora")
        for b in ("Featherstonehaugh", "Throckmorton", "Wolfenstein-Ashcroft", "Montgomery-Clarke", "Vanderbilt")
    ),
    "Felicity Huffman",
    "Lorraine Bracco",
    "Seraphina Postlethwaite",
)
TRANSFORMS = ("translate", "hflip", "brighten", "darken", "contrast_high", "contrast_low", "invert")
PART2_KINDS = {"mlp": "mlp", "cnn": "face-cnn", "features": "alexnet-features", "finetune": "alexnet-finetune"}


def _rid(kind: str, rng: random.Random) -> str:
    return f"{kind}-{rng.getrandbits(48):012x}"


def _row(group: str, variant: str, n: int, rng: random.Random, params: int = 110811) -> dict:
    """A suite row with per-repeat values (repeats 0..n-1) and their mean, std and n, as suites write them."""
    import statistics

    val = rng.uniform(0.2, 0.6)
    row: dict = {"group": group, "variant": variant, "n": n, "repeats": list(range(n)), "per_repeat": {}}
    for m, v in (
        ("train_acc", min(1.0, val + rng.uniform(0, 0.4))),
        ("val_acc", val),
        ("test_acc", val - 0.02),
        ("val_loss", 1.5),
        ("epochs_run", 30.0),
        ("best_epoch", 20.0),
        ("train_seconds", 20.0),
    ):
        values = [v + (rng.uniform(-0.05, 0.05) if m.endswith("acc") else 0.0) for _ in range(n)]
        row["per_repeat"][m] = values
        row[f"{m}_mean"], row[f"{m}_std"] = statistics.fmean(values), (statistics.stdev(values) if n > 1 else 0.0)
    row.update(params=params, macs=1_400_000, overrides="", run_ids=[_rid("cnn", rng) for _ in range(n)])
    return row


def _paired_row(variant: str, n: int, rng: random.Random, level: float) -> dict:
    """A controls-suite row: per-repeat accuracies (what paired comparisons read) and their mean/std."""
    row = {"group": "controls", "variant": variant, "n": n, "repeats": list(range(n)), "per_repeat": {}}
    for m, shift in (("train_acc", 0.2), ("val_acc", 0.0), ("test_acc", -0.02)):
        values = [min(1.0, level + shift + rng.uniform(-0.03, 0.03)) for _ in range(n)]
        row["per_repeat"][m] = values
        row[f"{m}_mean"], row[f"{m}_std"] = float(np.mean(values)), float(np.std(values, ddof=1)) if n > 1 else 0.0
    row.update(
        epochs_run_mean=50.0,
        epochs_run_std=0.0,
        params=110811,
        macs=1_400_000,
        overrides="",
        run_ids=[_rid("cnn", rng) for _ in range(n)],
    )
    return row


def _search_candidates(n: int, rng: random.Random) -> list[dict]:
    """1.6's rows beside the answer: the starter at the search's budget (the reference) and the top 3 trials
    retrained on every repeat, two of them seeded (the candidates table)."""
    reference = {**_row("reference", "starter (search budget)", n, rng), "group": "reference"}
    from cnnlab.art.suites.definitions import regularization_variants
    from cnnlab.art.suites.seeds import COMBINED

    longest = max((v.label for v in regularization_variants()[1:]), key=len)  # its reference is never a seed
    seeded = (None, f"1.4 best: {longest}", COMBINED)  # the longest seed labels the search writes
    candidates = [
        {
            **_row("search candidate", f"trial {t}", n, rng, params=4_724_171),
            "trial": t,
            "one_fold_val_acc": rng.uniform(0.3, 0.9),
            "seeded": text,
        }
        for t, text in zip((7, 12, 14), seeded)
    ]
    return [reference, *candidates]


def _diagnostics(art_names, people, suites, part2) -> tuple[dict, dict]:
    """The manifest's Part 1 and Part 2 diagnostics facts (cnnlab.report.figures.key_runs), invented."""
    a, b = art_names[0], art_names[-1]
    pair = {"true": a, "predicted": b, "count": 4, "of": 11, "share": 4 / 11}
    worst = [{"class": b, "support": 6, "correct": 2, "accuracy": 1 / 3, "precision": 0.5, "recall": 1 / 3, "f1": 0.4}]
    best_runs = suites["search"][0]["run_ids"]
    art = {
        "best": {
            "models": len(best_runs),
            "n": 67 * len(best_runs),
            "accuracy": 0.61,
            "classes": list(art_names),
            "pairs": [pair],
            "worst": worst,
            "confusion": [[1]],
            "runs": best_runs,
            "figure": "confusion_best.pdf",
        },
        "top_losses": {
            "figure": "top_losses_best.png",
            "run": best_runs[0],
            "shown": 4,
            "errors": 20,
            "n": 67,
            "p_min": 0.61,
            "p_max": 0.97,
            "mean_p_true": 0.05,
            "common_pair": {"true": a, "predicted": b, "count": 3},
            "items": [],
        },
        "filters": {
            "figure": "filters_starter.png",
            "run": suites["baseline"][0]["run_ids"][0],
            "colour_share": 0.41,
            "colour_share_init": 0.66,
            "count": 16,
        },
    }
    faces = {
        "group": "finetune",
        "val_acc": 0.8,
        "runs": part2["finetune"],
        "models": len(part2["finetune"]),
        "n": 6 * len(people),
        "accuracy": 0.78,
        "classes": list(people),
        "figure": "confusion_faces.pdf",
        "pairs": [{"true": people[0], "predicted": people[-1], "count": 2, "of": 6, "share": 1 / 3}],
        "worst": [
            {
                "class": people[0],
                "support": 6,
                "correct": 4,
                "accuracy": 2 / 3,
                "precision": 1.0,
                "recall": 2 / 3,
                "f1": 0.8,
            }
        ],
    }
    return art, faces


def _robust_row(model: str, transform: str, severity: float, n: int, rng: random.Random) -> dict:
    import statistics

    mean = max(0.0, 0.5 - 0.3 * severity * (transform.endswith("invert")) - 0.1 * severity)
    accs = [min(1.0, max(0.0, mean + rng.uniform(-0.03, 0.03))) for _ in range(n)]
    return {
        "model": model,
        "transform": transform,
        "severity": severity,
        "acc_mean": statistics.fmean(accs),
        "acc_std": statistics.stdev(accs) if n > 1 else 0.0,
        "n": n,
        "accs": accs,
    }


def _history(path: Path, epochs: int, rng: random.Random, test: bool = False) -> None:
    rows = []
    for e in range(1, epochs + 1):
        row = {
            "epoch": e,
            "train_acc": min(1, 0.1 + 0.1 * e),
            "val_acc": min(0.8, 0.1 + 0.07 * e),
            "train_loss": 2.0 / e,
            "val_loss": 2.2 / e + rng.uniform(0, 0.1),
        }
        if test:
            row.update(test_acc=min(0.8, 0.1 + 0.06 * e), test_loss=2.3 / e)
        rows.append(row)
    path.mkdir(parents=True, exist_ok=True)
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _png(path: Path, size=(40, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (*size[::-1], 3), dtype=np.uint8)).save(path)


def write_suites(root: Path, seeds: int, rng: random.Random) -> dict[str, list[dict]]:
    """Part 1: every suite's suite.json and a summary for each run its rows name; returns {suite: rows}."""
    from cnnlab.art.suites import labels
    from cnnlab.art.suites.common import with_overrides
    from cnnlab.art.suites.definitions import (
        FAIR_BUDGET,
        OVERFIT_REGIME,
        architecture_variants,
        regularization_variants,
    )

    suites = {
        "baseline": [_row("baseline", labels.STARTER, seeds, rng)],
        "pooling": [_row("baseline", labels.NO_POOLING, seeds, rng)]
        + [_row("max-pool size/stride", f"pool {s}", seeds, rng, 12000) for s in ("2/2", "3/2", "2/1", "3/1")],
        "regularization": [_row(v.group, v.label, seeds, rng) for v in regularization_variants()],
        "architecture": [_row(v.group, v.label, seeds, rng) for v in architecture_variants()],
        "search": [_row("search", labels.BEST_FOUND, seeds, rng), *_search_candidates(seeds, rng)],
        "controls": [
            _paired_row(v, seeds, rng, level)
            for v, level in (("colour CNN", 0.6), ("grayscale CNN", 0.45), ("colour only", 0.4))
        ],
        "robustness": [
            _row("robustness", labels.AS_TRAINED, seeds, rng),
            _row("robustness", labels.AUGMENTED, seeds, rng),
        ],
    }
    regime = lambda o: {"overrides": list(o), "train": to_dict(with_overrides(RunConfig(), o).train)}  # noqa: E731
    extra = {
        "pooling": {"regime": regime(FAIR_BUDGET)},
        "architecture": {"regime": regime(FAIR_BUDGET)},
        "regularization": {
            "regime": regime(OVERFIT_REGIME),
            "lr_pick": {"sgd": 0.01, "adam": 0.001, "rmsprop": 0.0003},
        },
        "search": {
            "winner": max(suites["search"][2:], key=lambda r: r["val_acc_mean"])["variant"],  # as the suite picks
            "answer": "search",
            "best_params": BEST_PARAMS,
            "trials": [
                {"number": i, "status": "complete" if i % 4 else "pruned", "value": 0.3 + 0.01 * i} for i in range(30)
            ],
        },
        "robustness": {
            "robustness": [
                _robust_row(m, t, s, seeds, rng)
                for m in (labels.AS_TRAINED, labels.AUGMENTED)
                for t, levels in [("original", (0.0,))]
                + [(t, (1.0,)) for t in COURSE_ORDER]
                + [(t, (1.0,) if t in ("hflip", "invert") else (0.5, 1.0)) for t in TRANSFORMS]
                for s in levels
            ]
        },
        "controls": {"chance": 0.11, "origin": "best configuration from the search suite"},
    }
    for name, rows in suites.items():
        meta = {
            "suite": name,
            "repeats": list(range(seeds)),
            "n_repeats": seeds,
            "folds": 5,
            "epochs": 50,
            "quick": False,
            "base_config": to_dict(RunConfig()),
            "data": "Data: synthetic-artists",
            "rows": rows,
            "findings": ["(fixture)"],
            **extra.get(name, {}),
        }
        (root / "suites" / name).mkdir(parents=True, exist_ok=True)
        (root / "suites" / name / "suite.json").write_text(json.dumps(meta))
    for rid in suites["baseline"][0]["run_ids"]:
        _history(root / rid, 10, rng)
    for rid in (rid for rows in suites.values() for row in rows for rid in row["run_ids"]):  # every run a row names
        (root / rid).mkdir(parents=True, exist_ok=True)
        (root / rid / "summary.json").write_text(json.dumps({"run_id": rid, "kind": "cnn", "val_acc": 0.5}))
    return suites


BEST_PARAMS = {  # the search's best configuration (1.6)
    "n_conv": 3,
    "filters_1": 16,
    "filters_2": 32,
    "filters_3": 64,
    "kernel_1": 5,
    "kernel_2": 3,
    "kernel_3": 3,
    "stride_1": 1,
    "padding": "same",
    "pool": True,
    "pool_size": 2,
    "fc_layers": 1,
    "fc_width": 128,
    "dropout": 0.31,
    "batch_norm": True,
    "lrn": False,
    "weight_norm": False,
    "optimizer": "adamw",
    "lr": 0.0012,
    "weight_decay": 3.1e-4,
    "scheduler": "cosine",
    "batch_size": 32,
    "augment": True,
}
RUN_CONFIG = {
    "config": {
        "train": {"optimizer": {"name": "adam", "lr": 0.001, "weight_decay": 0.01}, "batch_size": 32, "epochs": 8}
    }
}


def _part2_summary(rid: str, section: str, key: str | None, seed: int, people, label: str) -> dict:
    """The summary.json of one seed of a Part 2 group (manifest section and key, as in PART2_GROUPS)."""
    summary = {
        "run_id": rid,
        "kind": PART2_KINDS[section],
        "seed": seed,
        "train_acc": 1.0,
        "val_acc": 0.8,
        "test_acc": 0.78 + 0.01 * seed,
        "best_epoch": 7,
        "epochs_run": 8,
        "model": f"{label} thing -> {len(people)}",
        "layer": "conv4",
        "feature_dim": 43264,
        "params": 67560 if section == "cnn" else 247540,
        "freeze": "features",
        "alexnet": label,
        "architecture": {
            "num_classes": len(people),
            "image_size": 28,
            "channels": 1,
            "hidden": int(key or WEIGHT_STUDY_HIDDEN[0]),
            "activation": "tanh",
            "init": "normal-0.01",
        },
    }
    if section == "finetune":  # fine-tuning from the 2.2 network of the same seed
        summary.update(
            {
                "freeze": "from-features",
                "trained_layers": ["conv4"],
                "frozen_layers": ["conv1", "conv2", "conv3"],
                "best_epoch": seed % 2,
                "start": {"train_acc": 1.0, "val_acc": 0.8, "test_acc": 0.77 + 0.01 * seed},
            }
        )
    return summary


def write_part2_runs(root: Path, seeds: int, rng: random.Random, people, label: str) -> dict:
    """Part 2: the runs of every group of PART2_GROUPS over the seeds; returns the manifest's part2 section
    ({"mlp": {"300": ids, ...}, "cnn": ids, ...})."""
    part2: dict = {}
    for section, key in PART2_GROUPS.values():
        ids = part2.setdefault(section, {}).setdefault(key, []) if key else part2.setdefault(section, [])
        for seed in range(seeds):
            rid = _rid(PART2_KINDS[section], rng)
            ids.append(rid)
            _history(root / rid, 8, rng, test=True)
            (root / rid / "summary.json").write_text(json.dumps(_part2_summary(rid, section, key, seed, people, label)))
            (root / rid / "config.json").write_text(json.dumps(RUN_CONFIG))
    return part2


def write_assets(assets: Path, art_names, people) -> None:
    """The figures of report-assets/, at the aspect ratios of the real ones (so the layout is the real one)."""
    from cnnlab.report.figures.confusion import face_width, plot_confusion

    for name, size in (
        ("art_overview.png", (1100, 380)),
        ("mlp_units.png", (682, 380)),
        ("guided_backprop.png", (682, 152)),
        ("predict_face.png", (95, 95)),
        ("top_losses_best.png", (560, 190)),
        ("filters_starter.png", (583, 36)),
    ):
        _png(assets / name, size)
    strip = (
        [np.full((8, 8, 3), 0.5)] * 4,
        [{"true": art_names[0], "predicted": art_names[-1], "p_predicted": 0.9}] * 4,
    )
    plot_confusion(np.eye(len(art_names), dtype=int) * 5 + 1, art_names, assets / "confusion_best.pdf", strip=strip)
    plot_confusion(np.eye(len(people), dtype=int) * 5 + 1, people, assets / "confusion_faces.pdf", face_width(people))


def part2_manifest(part2: dict, seeds: int, people, pretrained: bool, label: str) -> dict:
    """The manifest's Part 2 sections but the diagnostics: faces, AlexNet, run ids, recipes, depth, range test,
    hidden units, guided backprop and the prediction example."""
    mlp = part2["mlp"]
    return {
        "faces": {
            "source": "olivetti",
            "kind": "olivetti",
            "provenance": "fixture",
            "people": list(people),
            "counts": {p: [6, 2, 2] for p in people},
            "subset": False,
            "alexnet_input": 227,
        },
        "alexnet": {
            "pretrained": pretrained,
            "source": "path" if pretrained else "random (torch default init, seed 0)",
            "sha256": "ab" * 32,
            "label": label,
        },
        "part2": part2,
        "recipes": {
            "rows": [
                {
                    "recipe": f"recipe {i}",
                    "per_image": bool(i & 8),
                    "augment": bool(i & 4),
                    "weight_decay": (1e-3, 1e-2)[(i >> 1) & 1],
                    "lr": (3e-4, 1e-3)[i & 1],
                    "val_acc_mean": 0.7 + 0.01 * i,
                    "val_acc_se": 0.01,
                    "n": seeds,
                    "chosen": i == 15,
                }
                for i in range(16)
            ],
            "chosen": "recipe 15",
            "rule": "the highest mean validation accuracy",
            "grid": "a fixture grid",
        },
        "depth": {
            "grid": 6,
            "rows": [
                {
                    "layer": layer,
                    "feature_dim": 36 * c,
                    "test_acc_mean": 0.6 + 0.05 * i,
                    "test_acc_se": 0.01,
                    "val_acc_mean": 0.62 + 0.05 * i,
                    "val_acc_se": 0.01,
                    "n": seeds,
                }
                for i, (layer, c) in enumerate(
                    zip(("conv1", "conv2", "conv3", "conv4", "conv5", "pool5"), (64, 192, 384, 256, 256, 256))
                )
            ],
        },
        "finetune_lr": {
            "trained_layers": "conv4",
            "start_lr": 1e-7,
            "min_lr": 1e-7,
            "last_lr": 1e-4,
            "stop_reason": "stopped after 44 steps: smoothed loss above 4x its minimum",
            "start_loss": 0.01,
            "min_loss": 0.01,
            "diverged": True,
        },
        "mlp_units": {
            "figure": "mlp_units.png",
            "runs": {h: ids[0] for h, ids in mlp.items()},
            "units": {
                h: [
                    {"unit": 3, "person": people[0], "score": 0.1, "corr": 0.4},
                    {"unit": 9, "person": people[-1], "score": 0.08, "corr": 0.3},
                ]
                for h in mlp
            },
        },
        "explain": {
            "figure": "guided_backprop.png",
            "method": "guided-backprop",
            "run": part2["finetune"][0],
            "untrained": not pretrained,
            "items": [{"true": p, "pred": p, "prob": 0.9, "centre_share": 0.45, "correct": True} for p in people[:2]]
            + [{"true": people[-1], "pred": people[0], "prob": 0.6, "centre_share": 0.35, "correct": False}],
        },
        "predict": {
            "image": "predict_face.png",
            "true": people[0],
            "top": [[p, 0.5 / (i + 1)] for i, p in enumerate(people[:3])],
            "run": part2["finetune"][0],
        },
    }


def make_fixture_runs(
    root: Path,
    *,
    seeds: int = 3,
    synthetic: bool = True,
    pretrained: bool = False,
    people=("s1", "s2", "s3"),
    art_names=("Canaletto", "Claude Monet"),
) -> Path:
    """A runs folder with the structure `cnnlab report` reads, every number invented (FIXTURE)."""
    rng = random.Random(0)
    suites = write_suites(root, seeds, rng)
    label = "ImageNet-pretrained AlexNet" if pretrained else "untrained AlexNet"
    part2 = write_part2_runs(root, seeds, rng, people, label)
    assets = root / "report-assets"
    write_assets(assets, art_names, people)
    art_diagnostics, face_diagnostics = _diagnostics(art_names, people, suites, part2)
    manifest = {
        "format": 1,
        "version": "0.1.0",
        "quick": False,
        "seeds": seeds,
        "repeats": seeds,
        "timings": {"part1_seconds": 600, "part2_seconds": 120},
        "art": {
            "name": "synthetic-artists" if synthetic else str(root / "art_data" / "artists"),
            "synthetic": synthetic,
            "summary": "fixture",
            "counts": {n: 20 for n in art_names},
            "image_size": 50,
            "skipped": 0,
            "split": {"train": 28, "val": 6, "test": 6},
            "figure": "art_overview.png",
            "diagnostics": art_diagnostics,
        },
        **part2_manifest(part2, seeds, people, pretrained, label),
        "face_diagnostics": face_diagnostics,
    }
    (assets / "manifest.json").write_text(json.dumps(manifest))
    return root
