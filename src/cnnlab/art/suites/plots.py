"""Suite figures: accuracy per variant, mean learning curves over seeds, robustness (PNGs in the suite folder)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from cnnlab.core.plotting import pyplot, save_figure

COLORS = ["#3182bd", "#e6550d", "#31a354"]


def plot_variant_bars(rows: list[dict], path: Path, title: str, baseline: Mapping | None = None) -> Path:
    """Train and validation accuracy per variant with ±1 std error bars; a dashed line at the
    validation accuracy of the `baseline` row (one of `rows`, found by its label by the caller)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.45 * len(rows) + 2), 3.4))
    xs = range(len(rows))
    width = 0.38
    ax.bar(
        [x - width / 2 for x in xs],
        [r["train_acc_mean"] for r in rows],
        width,
        yerr=[r["train_acc_std"] for r in rows],
        label="train",
        color="#9ecae1",
        capsize=2,
    )
    ax.bar(
        [x + width / 2 for x in xs],
        [r["val_acc_mean"] for r in rows],
        width,
        yerr=[r["val_acc_std"] for r in rows],
        label="validation",
        color="#3182bd",
        capsize=2,
    )
    if baseline is not None:
        ax.axhline(baseline["val_acc_mean"], color="k", lw=0.8, ls="--", label=f"{baseline['variant']} val")
    ax.set_xticks(list(xs))
    ax.set_xticklabels([r["variant"] for r in rows], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.05)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, frameon=False, ncol=3)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_mean_curves(run_paths: Sequence[str], path: Path, title: str) -> Path:
    """Train and validation accuracy per epoch, mean ± sample std over seeds (the 1.2 overfitting gap)."""
    from cnnlab.core.runs.folders import load_history
    from cnnlab.core.stats import mean_curves

    plt = pyplot()
    curve = mean_curves([load_history(p) for p in run_paths], ("train_acc", "val_acc"))
    fig, ax = plt.subplots(figsize=(5, 3.2))
    epochs = curve["epoch"]
    for key, label, color in (("train_acc", "train", "#9ecae1"), ("val_acc", "validation", "#3182bd")):
        mean, std = curve[f"{key}_mean"], curve[f"{key}_std"]
        ax.plot(epochs, mean, label=label, color=color)
        ax.fill_between(
            epochs, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)], color=color, alpha=0.25
        )
    ax.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02))
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_robustness(table: list[dict], folder: Path) -> None:
    """robustness_bars.png (the course's transformations, every model) and robustness_curves.png
    (accuracy against severity of the graded transforms, the course's point marked)."""
    from cnnlab.art.robustness import ORIGINAL, course_points, table_row
    from cnnlab.art.transforms.course import COURSE_LABELS, COURSE_ORDER

    plt = pyplot()
    models = list(dict.fromkeys(r["model"] for r in table))
    transforms = [ORIGINAL] + [t for t in COURSE_ORDER if any(r["transform"] == t for r in table)]
    fig, ax = plt.subplots(figsize=(7.0, 3.4))
    width = 0.8 / len(models)
    for i, m in enumerate(models):
        rows = [table_row(table, m, t, max(r["severity"] for r in table if r["transform"] == t)) for t in transforms]
        xs = [j + (i - (len(models) - 1) / 2) * width for j in range(len(transforms))]
        ax.bar(
            xs,
            [r["acc_mean"] for r in rows],
            width,
            yerr=[r["acc_std"] for r in rows],
            label=m,
            color=COLORS[i % 3],
            capsize=2,
        )
    ax.set_xticks(range(len(transforms)))
    ax.set_xticklabels([COURSE_LABELS.get(t, t) for t in transforms], rotation=30, ha="right", fontsize=8)
    ax.set(ylabel="test accuracy", ylim=(0, 1.05))
    ax.set_title("Test accuracy under the course's transformations", fontsize=9)
    ax.legend(frameon=False, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, folder / "robustness_bars.png")

    graded = graded_transforms(table)
    fig, axes = plt.subplots(
        1, max(1, len(graded)), figsize=(2.0 * max(1, len(graded)), 2.4), sharey=True, squeeze=False
    )
    for ax, t in zip(axes[0], graded):
        for i, m in enumerate(models):
            clean = table_row(table, m, ORIGINAL, 0.0)
            rows = [clean] + sorted(
                (r for r in table if r["model"] == m and r["transform"] == t), key=lambda r: r["severity"]
            )
            sev = [0.0] + [r["severity"] for r in rows[1:]]
            ax.errorbar(
                sev,
                [r["acc_mean"] for r in rows],
                yerr=[r["acc_std"] for r in rows],
                label=m,
                color=COLORS[i % 3],
                marker="o",
                ms=3,
                capsize=2,
            )
            for severity, acc in course_points(table, m, t):
                ax.plot(
                    [severity],
                    [acc],
                    marker="*",
                    ms=9,
                    color=COLORS[i % 3],
                    markeredgecolor="k",
                    markeredgewidth=0.5,
                    ls="none",
                )
        ax.set_title(t.replace("_", " "), fontsize=8)
        ax.set_xlabel("severity", fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (star: the course's transform)", fontsize=7)
    axes[0][0].legend(frameon=False, fontsize=7)
    fig.tight_layout()
    save_figure(fig, folder / "robustness_curves.png")


def graded_transforms(table: list[dict]) -> list[str]:
    """The transforms of `table` recorded at more than one severity (the severity curves), in table order."""
    from cnnlab.art.robustness import ORIGINAL

    names = dict.fromkeys(r["transform"] for r in table)
    return [t for t in names if t != ORIGINAL and len({r["severity"] for r in table if r["transform"] == t}) > 1]
