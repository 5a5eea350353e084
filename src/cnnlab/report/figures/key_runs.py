"""The report's diagnostics, made while collecting (they need checkpoints): what the key models confuse.

Nothing is retrained. The key runs get their `cnnlab inspect` folder (the same functions:
cnnlab.art.inspect_run / cnnlab.faces.inspect.inspect_run), and the report draws, into report-assets/:
  confusion_best.pdf    the best 1.6 configuration's test confusion, pooled over its repeats, and beside it the
                        most confidently wrong test paintings of its first repeat's model (the top losses)
  filters_starter.png   the first-layer filters of the starter network (first repeat)
  confusion_faces.pdf   the test confusion of the best face model (by validation accuracy), pooled over its seeds
Each function returns the facts the text quotes (manifest.json keeps them), so the report's sentences
and its pictures come from the same computation.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnlab.core.diagnostics.metrics import SplitDiagnostics
from cnnlab.core.runtime import DEFAULT_DEVICE
from cnnlab.report.figures.confusion import face_width, plot_confusion
from cnnlab.report.figures.layout import PRINT, PrintWidth, pyplot, save

log = logging.getLogger(__name__)

STRIP = 4  # images in the top-losses strip (beside the confusion matrix, under its key)
PAIRS = 3  # confused pairs and worst classes quoted


def _figure_facts(drawn: Mapping[str, Any]) -> dict[str, Any]:
    """The confusion figure's file name, and the classes it shows when not all (the caption says so)."""
    return {
        "figure": drawn["figure"],
        "numbers": drawn["numbers"],
        **({"shown": drawn["shown"]} if drawn.get("shown") else {}),
    }


def _split_facts(d: SplitDiagnostics, models: int) -> dict[str, Any]:
    return {
        "models": models,
        "n": d.n,
        "accuracy": d.accuracy,
        "classes": list(d.class_names),
        "pairs": d.confused_pairs(PAIRS),
        "worst": d.worst_classes(PAIRS),
        "confusion": d.confusion.tolist(),
    }


def confusion_figure(
    d: SplitDiagnostics, path: Path, width: PrintWidth, strip: tuple[Sequence[Any], Sequence[Any]] | None = None
) -> dict[str, Any]:
    """The pooled confusion matrix with its key (and `strip`, the top losses), at its print width, as a PDF so
    its small labels stay sharp when zoomed (no title: the caption says what it is); returns
    `confusion.plot_confusion`'s facts."""
    return plot_confusion(d.confusion, d.class_names, path, width, strip)


def plot_filters(pictures: Sequence[np.ndarray], path: Path, width: PrintWidth = PRINT["filters_starter"]) -> Path:
    """First-layer filters as tiles in rows of at most 16, at the print width (no text)."""
    plt = pyplot()
    n = max(1, len(pictures))
    cols = min(n, 16)
    rows = math.ceil(n / cols)
    w = width.inches
    pitch = w / cols
    tile = pitch * 0.88
    height = rows * pitch
    fig = plt.figure(figsize=(w, height))
    for i, pic in enumerate(pictures):
        r, c = divmod(i, cols)
        ax = fig.add_axes(((c * pitch) / w, (height - (r + 1) * pitch) / height, tile / w, tile / height))
        ax.imshow(pic, cmap="gray" if pic.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
        ax.axis("off")
    return save(fig, path, width)


def part1_diagnostics(
    out_root: Path, assets: Path, best_runs: Sequence[str], starter_runs: Sequence[str], device: str = DEFAULT_DEVICE
) -> dict[str, Any]:
    """Inspect the first run of the best 1.6 configuration and of the starter network, pool the best
    configuration's test predictions over its repeats, and draw the report's Part 1 diagnostic figures."""
    from cnnlab.art.inspect_run import (
        filter_colour_share,
        filter_pictures,
        first_conv,
        inspect_run,
        load_run_data,
        run_split,
        to_display,
    )
    from cnnlab.art.models import create_model
    from cnnlab.art.run import load_run_model
    from cnnlab.core.train.trainer import seed_everything

    best = [out_root / rid for rid in best_runs]
    starter = [out_root / rid for rid in starter_runs]
    # The key runs' own diagnostics/ folders, as `cnnlab inspect` writes them; kept when already written for the
    # same run, data and options (a rerun of the report redraws none of their figures).
    inspected = inspect_run(best[0], device=device, reuse=True)
    inspect_run(starter[0], device=device, reuse=True)
    pooled = SplitDiagnostics.pooled([inspected.splits["test"]] + [run_split(p, device=device) for p in best[1:]])
    first = inspected.splits["test"]
    wrong = [it for it in first.top_losses(len(first.y_true)) if not it["correct"]][:STRIP]
    pictures = []
    if wrong:
        _, data = load_run_data(best[0])
        pictures = [to_display(data.test[0][it["index"]]) for it in wrong]
    # The confusion at the full text width, its key beside it, and the top losses under the key (one figure).
    drawn = confusion_figure(pooled, assets / "confusion_best.pdf", PRINT["confusion_best"], (pictures, wrong))
    facts: dict[str, Any] = {
        "best": {**_split_facts(pooled, len(best)), "runs": list(best_runs), **_figure_facts(drawn)}
    }
    if wrong:
        pairs = Counter((it["true"], it["predicted"]) for it in wrong)
        (true, pred), count = pairs.most_common(1)[0]
        facts["top_losses"] = {
            "figure": drawn["figure"],
            "run": best_runs[0],
            "shown": len(wrong),
            "errors": int(first.n - round(first.accuracy * first.n)),
            "n": first.n,
            "p_min": min(it["p_predicted"] for it in wrong),
            "p_max": max(it["p_predicted"] for it in wrong),
            "mean_p_true": sum(it["p_true"] for it in wrong) / len(wrong),
            "common_pair": {"true": true, "predicted": pred, "count": count},
            "items": wrong,
        }
    model = load_run_model(starter[0])
    config, _ = load_run_data(starter[0])
    seed_everything(config.train.seed)  # the same initialisation the run started from
    init = create_model(
        config.model.name, num_classes=len(first.class_names), config=config.model, image_size=config.data.image_size
    )
    plot_filters(filter_pictures(model), assets / "filters_starter.png")
    facts["filters"] = {
        "figure": "filters_starter.png",
        "run": starter_runs[0],
        "colour_share": filter_colour_share(model),
        "colour_share_init": filter_colour_share(init),
        "count": int(first_conv(model).out_channels),
    }
    return facts


def best_face_group(groups: Mapping[str, Sequence[str]], out_root: Path) -> tuple[str, list[str], float]:
    """(group key, run ids, mean validation accuracy) of the Part 2 group with the highest mean validation
    accuracy (chosen on validation, never on test)."""
    from cnnlab.core.runs.folders import load_summary

    def val(ids: Sequence[str]) -> float:  # summaries read back checked (core.runs.validity): one line if damaged
        return sum(float(load_summary(out_root / rid)["val_acc"]) for rid in ids) / len(ids)

    scores = {k: val(ids) for k, ids in groups.items() if ids}
    key = max(scores, key=lambda k: scores[k])
    return key, list(groups[key]), scores[key]


def part2_diagnostics(
    out_root: Path, assets: Path, groups: Mapping[str, Sequence[str]], device: str = DEFAULT_DEVICE
) -> dict[str, Any]:
    """Inspect the first run of the best face model and pool its test predictions over its seeds."""
    from cnnlab.faces.inspect.inspect_run import inspect_run, load_run_model_and_faces, run_split

    key, ids, val_acc = best_face_group(groups, out_root)
    runs = [out_root / rid for rid in ids]
    inspected = inspect_run(runs[0], device=device)
    _, faces = load_run_model_and_faces(runs[0], device)  # the same faces for every seed of the group
    pooled = SplitDiagnostics.pooled(
        [inspected.splits["test"]] + [run_split(p, device=device, faces=faces) for p in runs[1:]]
    )
    return {
        "group": key,
        "val_acc": val_acc,
        "runs": ids,
        **_split_facts(pooled, len(runs)),
        **_figure_facts(confusion_figure(pooled, assets / "confusion_faces.pdf", face_width(pooled.class_names))),
    }


def explain_examples(d: SplitDiagnostics, k: int = 4) -> list[tuple[int, bool]]:
    """(test index, correct) of k faces for 2.5: the most confidently wrong faces (at most half of them) and
    the most confident correct ones, so the maps show the network right and wrong."""
    wrong = [it["index"] for it in d.top_losses(d.n) if not it["correct"]][: k // 2]
    right = [it["index"] for it in d.confident_correct(k - len(wrong))]
    return [(i, True) for i in right] + [(i, False) for i in wrong]
