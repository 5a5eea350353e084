"""Report plots drawn from the context's numbers alone (vector PDFs drawn at their print width, `layout.PRINT`).

Unlike figures.py these need no data or checkpoints, so a report renders from a runs folder (or a
fixture) without torch doing any work. Accuracies are plotted as percentages.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cnnlab.art.robustness import ORIGINAL, course_points, strongest_severities, table_row
from cnnlab.core.plotting import mpl_text
from cnnlab.core.stats import compare_records
from cnnlab.report.figures.layout import PRINT, PrintWidth, pyplot, save
from cnnlab.report.figures.names import text_width, wrap

COLORS = {"train": "#9ecae1", "val": "#3182bd", "test": "#e6550d"}
GROUP_COLORS = ["#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363", "#8c6d31", "#d6616b"]


def _band(ax, x, mean, std, color, label, style="-") -> None:
    m = [100 * v for v in mean]
    ax.plot(x, m, style, color=color, label=label)
    if std and any(s > 0 for s in std):
        ax.fill_between(
            x,
            [a - 100 * s for a, s in zip(m, std)],
            [a + 100 * s for a, s in zip(m, std)],
            color=color,
            alpha=0.25,
            lw=0,
        )


def plot_curves(
    curve: dict[str, list[float]],
    path: Path,
    title: str,
    sets: Sequence[str] = ("train", "val"),
    width: PrintWidth = PRINT["baseline_curves"],
    height: float = 1.9,
) -> Path:
    """Accuracy per epoch, mean (line) and +-1 std over seeds (band), one line per set."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(width.inches, height))
    for s in sets:
        if f"{s}_acc_mean" in curve:
            _band(
                ax,
                curve["epoch"],
                curve[f"{s}_acc_mean"],
                curve.get(f"{s}_acc_std"),
                COLORS[s],
                {"val": "validation"}.get(s, s),
            )
    ax.set(xlabel="epoch", ylabel="accuracy (%)", ylim=(0, 102))
    ax.set_title(mpl_text(title))
    ax.grid(alpha=0.3, lw=0.4)
    ax.legend(frameon=False, loc="best")
    fig.tight_layout(pad=0.3)
    return save(fig, path, width)


def plot_deltas(
    panels: Sequence[tuple[list[dict], dict, str]],
    path: Path,
    height: float = 0.9,
    width: PrintWidth = PRINT["deltas"],
) -> Path:
    """Validation accuracy of every variant minus its reference, paired per repeat (bars, coloured by
    group), with the 95 % paired t interval of `cnnlab.core.stats.compare_records` as error bar (an
    interval that misses 0 is the rule's "better" or "worse"); one panel per (rows, reference row
    (one of rows), title), side by side."""
    plt = pyplot()
    sizes = [len(rows) - 1 for rows, _, _ in panels]
    # Laid out in inches: the bars `height` high, under them the variant labels, whole (the suites define them, so
    # the figure's height is bounded).
    label_in = (
        max((text_width(r["variant"], 6) for rows, base, _ in panels for r in rows if r is not base), default=0) / 72
    )
    bottom, top, left, right = label_in + 0.08, 0.3, 0.5, 0.02
    fig_h = bottom + height + top
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(width.inches, fig_h),
        squeeze=False,
        gridspec_kw={"width_ratios": [max(1, n) for n in sizes], "wspace": 0.12},
    )
    fig.subplots_adjust(
        left=left / width.inches, right=1 - right / width.inches, bottom=bottom / fig_h, top=1 - top / fig_h
    )
    for ax, (rows, base, title) in zip(axes[0], panels):
        others = [r for r in rows if r is not base]
        groups = list(dict.fromkeys(r["group"] for r in others))
        for x, r in enumerate(others):
            c = compare_records(r, base)
            color = GROUP_COLORS[groups.index(r["group"]) % len(GROUP_COLORS)]
            ax.bar(
                x,
                100 * c.diff,
                color=color,
                width=0.75,
                yerr=100 * c.margin if c.has_error_bar and c.se > 0 else None,
                error_kw={"lw": 0.6, "capsize": 1.2},
            )
        ax.set_xticks(range(len(others)))
        labels = ax.set_xticklabels([mpl_text(r["variant"]) for r in others], rotation=90, ha="center", fontsize=6)
        for label, r in zip(labels, others):  # the label colour names the group: no legend over the bars
            label.set_color(GROUP_COLORS[groups.index(r["group"]) % len(GROUP_COLORS)])
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xlim(-0.6, len(others) - 0.4)
        ax.set_title(mpl_text(wrap(title, 72 * ax.get_position().width * width.inches, 7, 2)), fontsize=7)
        ax.grid(axis="y", alpha=0.3, lw=0.4)
    axes[0][0].set_ylabel("$\\Delta$ val. acc. (pts)")
    return save(fig, path, width)


def plot_robustness_curves(
    table: list[dict], path: Path, width: PrintWidth = PRINT["robust_curves"], height: float = 2.0
) -> Path:
    """Test accuracy against severity for each graded transform (severity 0 = the clean test set); a
    star marks the course's transformation where it sits on the curve."""
    plt = pyplot()
    models = list(dict.fromkeys(r["model"] for r in table))
    strongest = strongest_severities(table)
    graded = [t for t in strongest if t != ORIGINAL and len({r["severity"] for r in table if r["transform"] == t}) > 1]
    cols = 2 if width.inches < 2.4 else 3  # plots of at least MIN_PLOT_IN a side
    nrows = max(1, math.ceil((len(graded) + 1) / cols))  # + 1: the legend's cell
    fig, axes = plt.subplots(nrows, cols, figsize=(width.inches, height), sharex=True, sharey=True, squeeze=False)
    for ax, t in zip(axes.flat, graded):
        for i, m in enumerate(models):
            color = GROUP_COLORS[i % len(GROUP_COLORS)]
            clean = table_row(table, m, ORIGINAL, strongest[ORIGINAL])
            rows = [clean] + sorted(
                (r for r in table if r["model"] == m and r["transform"] == t), key=lambda r: r["severity"]
            )
            ax.errorbar(
                [0.0] + [r["severity"] for r in rows[1:]],
                [100 * r["acc_mean"] for r in rows],
                yerr=[100 * r["acc_std"] for r in rows],
                color=color,
                marker="o",
                ms=2,
                lw=0.8,
                elinewidth=0.5,
                capsize=1,
                label=mpl_text(m),
            )
            for severity, value in course_points(table, m, t):
                ax.plot(
                    [severity],
                    [100 * value],
                    ls="none",
                    marker="*",
                    ms=6,
                    color=color,
                    markeredgecolor="k",
                    markeredgewidth=0.4,
                )
        ax.set_title(t.replace("_", " "), fontsize=6, pad=2)
        ax.set_ylim(0, 105)
        ax.grid(alpha=0.3, lw=0.4)
    for i, ax in enumerate(list(axes.flat)[len(graded) :]):
        ax.axis("off")
        if graded and i == 0:
            ax.legend(*axes.flat[0].get_legend_handles_labels(), frameon=False, loc="center")
    for ax in axes[-1]:
        ax.set_xlabel("severity", fontsize=6)
    for row in axes:
        row[0].set_ylabel("test acc. (%)", fontsize=6)
    fig.tight_layout(pad=0.2, w_pad=0.05, h_pad=0.3)
    return save(fig, path, width)


def plot_part2_curves(
    curves: Mapping[str, Mapping[str, Any]],
    titles: dict[str, str],
    path: Path,
    width: PrintWidth = PRINT["part2_curves"],
) -> Path:
    """One panel per Part 2 model that `titles` names: train, validation and test accuracy per epoch (mean over seeds;
    `curves`: {group name: its mean learning curve, `RunGroup.curve`})."""
    plt = pyplot()
    keys = [k for k in titles if k in curves]
    fig, axes = plt.subplots(1, len(keys), figsize=(width.inches, 1.45), sharey=True, squeeze=False)
    for ax, k in zip(axes[0], keys):
        curve = curves[k]
        for s in ("train", "val", "test"):
            if f"{s}_acc_mean" in curve:
                _band(
                    ax,
                    curve["epoch"],
                    curve[f"{s}_acc_mean"],
                    curve.get(f"{s}_acc_std"),
                    COLORS[s],
                    {"val": "validation"}.get(s, s),
                )
        ax.set_title(mpl_text(titles[k]), fontsize=6.5)
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 102)
        ax.grid(alpha=0.3, lw=0.4)
    axes[0][0].set_ylabel("accuracy (%)")
    axes[0][0].legend(frameon=False, loc="lower right")
    fig.tight_layout(pad=0.3, w_pad=0.4)
    return save(fig, path, width)


def plot_search(trials: list[dict], path: Path, width: PrintWidth = PRINT["search"], height: float = 1.5) -> Path:
    """Validation accuracy of each complete search trial and the best so far."""
    plt = pyplot()
    done = sorted(
        (t for t in trials if t.get("status") == "complete" and t.get("value") is not None), key=lambda t: t["number"]
    )
    fig, ax = plt.subplots(figsize=(width.inches, height))
    xs = [t["number"] for t in done]
    vals = [100 * t["value"] for t in done]
    best, run = [], -1.0
    for v in vals:
        run = max(run, v)
        best.append(run)
    pruned = [t for t in trials if t.get("status") == "pruned" and t.get("value") is not None]
    ax.scatter(xs, vals, s=6, color=GROUP_COLORS[0], label="complete trial", zorder=3)
    if pruned:
        ax.scatter(
            [t["number"] for t in pruned],
            [100 * t["value"] for t in pruned],
            s=6,
            marker="x",
            color="#999999",
            label="pruned (last epoch)",
        )
    ax.step(xs, best, where="post", color=GROUP_COLORS[1], label="best so far")
    ax.set(xlabel="trial", ylabel="val. accuracy (%)", ylim=(0, 102))
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3, lw=0.4)
    ax.legend(frameon=False, loc="lower right", fontsize=6)
    fig.tight_layout(pad=0.3)
    return save(fig, path, width)


def plot_depth(
    rows: list[dict],
    reference: tuple[str, float] | None,
    path: Path,
    width: PrintWidth = PRINT["depth"],
    height: float = 1.45,
) -> Path:
    """Accuracy of the same head on each AlexNet layer (cnnlab.faces.training.layer_sweep): test mean +- SE over seeds (dots
    and bars), validation mean (open circles), and an optional reference line (label, accuracy)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(width.inches, height))
    xs = list(range(len(rows)))
    ax.errorbar(
        xs,
        [100 * r["test_acc_mean"] for r in rows],
        yerr=[100 * r["test_acc_se"] for r in rows],
        fmt="o-",
        ms=3,
        lw=1,
        elinewidth=0.6,
        capsize=2,
        color=COLORS["test"],
        label="test (mean $\\pm$ SE)",
    )
    ax.plot(xs, [100 * r["val_acc_mean"] for r in rows], "o", ms=3, mfc="none", color=COLORS["val"], label="validation")
    if reference is not None:
        ax.axhline(100 * reference[1], color="#636363", lw=0.8, ls="--", label=mpl_text(reference[0]))
    ax.set_xticks(xs, [r["layer"].replace("conv", "c").replace("pool", "p") for r in rows])
    ax.set(xlabel="AlexNet layer (c: conv, p: pool)", ylabel="accuracy (%)")
    low = min(100 * min(r["test_acc_mean"] - r["test_acc_se"], r["val_acc_mean"]) for r in rows)
    ax.set_ylim(max(0, math.floor(low / 10) * 10 - 5), 101)
    ax.grid(alpha=0.3, lw=0.4)
    ax.legend(frameon=False, loc="lower right", fontsize=6)
    fig.tight_layout(pad=0.3)
    return save(fig, path, width)
