"""The NeurIPS-style report of the whole practical, built from real runs (`cnnlab report`).

    build_report(ReportOptions(quick=True))   # run or reuse everything, write report/report.tex + .pdf

Stages: collect.run_experiments (train or reuse every Part 1 suite and Part 2 run, make the figures
that need data or checkpoints) -> context.load_context (frozen dataclasses read from the runs folder) ->
render.render_bundle (report.tex, style, figures, into a temporary folder) -> compile.compile_pdf
(latexmk or pdflatex) -> the folder replaces report_dir in one rename.
"""

from __future__ import annotations

import logging
import time

from cnnlab.report.options import ReportOptions, ReportResult

__all__ = ["ReportOptions", "ReportResult", "build_report"]

log = logging.getLogger(__name__)


def build_report(options: ReportOptions) -> ReportResult:
    """Run (or reuse) every experiment, then write report_dir/report.tex, its figures and report.pdf."""
    from cnnlab.core import progress
    from cnnlab.report.collect import RENDER, STAGES, run_experiments
    from cnnlab.report.context import load_context
    from cnnlab.report.render import write_report

    progress.expect(STAGES if options.train else (RENDER,))
    t0 = time.perf_counter()
    if options.train:
        run_experiments(options)
    t1 = time.perf_counter()
    with progress.stage(RENDER):
        context = load_context(options.out_root)
        result = write_report(context, options.report_dir, style=options.style, compile=options.compile)
    result.seconds = {
        "experiments": round(t1 - t0, 1),
        "render_compile": round(time.perf_counter() - t1, 1),
        "total": round(time.perf_counter() - t0, 1),
    }
    result.context = context
    return result
