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
from cnnlab.report.context import MAIN_MLP, ReportContext, mlp_group
from cnnlab.report.figures import curves as plots


def curve_titles(pretrained: bool) -> dict[str, str]:
    """The panel titles of the Part 2 learning-curve figure, per group name (an untrained AlexNet named as such)."""
    alexnet = "pretrained AlexNet" if pretrained else "untrained AlexNet"
    return {
        mlp_group(MAIN_MLP): f"MLP\n{MAIN_MLP} hidden",
        "cnn": "small CNN\n(the MLP's recipe)",
        "finetune": f"{alexnet}:\nfine-tuned",
    }


def make_figures(ctx: ReportContext, fig_dir: Path) -> dict[str, str]:
    """Draw the context's figures into fig_dir; returns {figure key: file name} of those drawn.

    Keys: baseline_curves, deltas, search (only when a search trial completed), robust_curves,
    part2_curves, depth.
    """
    fig_dir.mkdir(parents=True, exist_ok=True)
    suites = ctx.part1.suites
    drawn: dict[str, str] = {}
    base = suites["baseline"]["rows"][0]
    drawn["baseline_curves"] = plots.plot_curves(
        ctx.part1.baseline_curve, fig_dir / "baseline_curves.pdf", f"starter network, n={base['n']}"
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
    curves = {name: g.curve for name, g in ctx.part2.groups.items()}
    titles = curve_titles(ctx.part2.pretrained)
    drawn["part2_curves"] = plots.plot_part2_curves(curves, titles, fig_dir / "part2_curves.pdf").name
    drawn["depth"] = plots.plot_depth(
        ctx.part2.depth["rows"], ("pixel MLP (test)", ctx.part2.main_mlp.mean("test_acc")), fig_dir / "depth.pdf"
    ).name
    return drawn
