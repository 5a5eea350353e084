"""The report's figure step: every figure drawn from the context, before any text is written.

`make_figures(ctx, fig_dir)` draws the plots of report.plots into fig_dir and returns the file name
of each figure it drew; the section builders (report.sections) only build strings
and refer to these names. (The figures that need data or checkpoints are made while collecting, by
report.figures, and copied in by render.render_bundle.)
"""

from __future__ import annotations

from pathlib import Path

from cnnlab.art.suites import labels
from cnnlab.art.suites.labels import find_variant
from cnnlab.report.figures import curves as plots


def curve_titles(ctx: dict) -> dict[str, str]:
    """The panel titles of the Part 2 learning-curve figure, per model key (an untrained AlexNet named as such)."""
    alexnet = "pretrained AlexNet" if ctx["alexnet"].get("pretrained") else "untrained AlexNet"
    return {
        "mlp300": "MLP\n300 hidden",
        "cnn": "small CNN\n(the MLP's recipe)",
        "finetune": f"{alexnet}:\nfine-tuned",
    }


def make_figures(ctx: dict, fig_dir: Path) -> dict[str, str]:
    """Draw the context's figures into fig_dir; returns {figure key: file name} of those drawn.

    Keys: baseline_curves, deltas, search (only when a search trial completed), robust_curves,
    part2_curves, depth.
    """
    fig_dir.mkdir(parents=True, exist_ok=True)
    suites = ctx["suites"]
    drawn: dict[str, str] = {}
    base = suites["baseline"]["rows"][0]
    drawn["baseline_curves"] = plots.plot_curves(
        ctx["curves"]["baseline"], fig_dir / "baseline_curves.pdf", f"starter network, n={base['n']}"
    ).name
    reg, arch = suites["regularization"]["rows"], suites["architecture"]["rows"]
    drawn["deltas"] = plots.plot_deltas(
        [
            (reg, find_variant(reg, labels.REG_BASELINE, "regularization"), "regularisation, each alone (1.4)"),
            (arch, find_variant(arch, labels.ARCH_STARTER, "architecture"), "architecture, one change at a time (1.5)"),
        ],
        fig_dir / "deltas.pdf",
    ).name
    trials = suites["search"].get("trials") or []
    if any(t.get("status") == "complete" for t in trials):
        drawn["search"] = plots.plot_search(trials, fig_dir / "search.pdf").name
    table = suites["robustness"]["robustness"]
    drawn["robust_curves"] = plots.plot_robustness_curves(table, fig_dir / "robust_curves.pdf").name
    drawn["part2_curves"] = plots.plot_part2_curves(ctx["part2"], curve_titles(ctx), fig_dir / "part2_curves.pdf").name
    mlp = ctx["part2"]["mlp300"]
    drawn["depth"] = plots.plot_depth(
        ctx["depth"]["rows"], ("pixel MLP (test)", mlp["test_acc_mean"]), fig_dir / "depth.pdf"
    ).name
    return drawn
