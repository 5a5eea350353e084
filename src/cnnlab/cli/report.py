"""`cnnlab report`: every experiment, then the NeurIPS-style PDF."""

from __future__ import annotations

import argparse
import logging

from cnnlab.cli.common import (
    add_part1_data_arg,
    add_runtime_args,
    add_search_source_args,
    add_tensorboard_arg,
    positive_int,
    runtime_options,
    tensorboard_callbacks,
    tensorboard_done,
)

log = logging.getLogger("cnnlab")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to the `cnnlab` parser."""
    _add_report(sub)


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="run (or reuse) every Part 1 and Part 2 experiment and write the NeurIPS-style report PDF"
    )
    p.add_argument("--quick", action="store_true", help="1 seed, few epochs, a few faces: a smoke test, not results")
    p.add_argument(
        "--report-dir",
        default="report",
        help="where report.tex, supplement.tex, figures/, report.pdf and supplement.pdf go (default: report)",
    )
    p.add_argument(
        "--style",
        metavar="PATH",
        help="an official neurips_20XX.sty to typeset with (default: cnnlab's own NeurIPS-like style)",
    )
    p.add_argument("--no-compile", action="store_true", help="write the LaTeX bundle only")
    p.add_argument("--no-train", action="store_true", help="render from the runs folder as it is: train nothing")
    from cnnlab.art.repeats import DEFAULT_REPEATS, DEFAULT_TRIALS
    from cnnlab.report.options import DEFAULT_FACES, DEFAULT_SEEDS, DEFAULT_WEIGHTS

    p.add_argument(
        "--repeats",
        default=str(DEFAULT_REPEATS),
        metavar="N",
        help="Part 1 paired repeats per variant, a count: repeat r trains with seed r on validation fold r mod "
        f"data.folds (default: {DEFAULT_REPEATS})",
    )
    p.add_argument(
        "--seeds",
        default=",".join(map(str, DEFAULT_SEEDS)),
        metavar="S[,S|A-B...]",
        help="Part 2 seeds per model, a comma list with ranges (0-4; 5 = seed 5 alone) (--quick: the first alone) "
        f"(default: {','.join(map(str, DEFAULT_SEEDS))})",
    )
    p.add_argument(
        "--trials",
        type=positive_int,
        default=DEFAULT_TRIALS,
        help=f"Optuna trials of the 1.6 search (default: {DEFAULT_TRIALS}; --quick: 3)",
    )
    add_part1_data_arg(p)
    p.add_argument(
        "--faces",
        default=DEFAULT_FACES,
        metavar="SOURCE",
        help=f"'olivetti' (embedded) or a folder made by `cnnlab faces download` (default: {DEFAULT_FACES})",
    )
    p.add_argument(
        "--weights",
        default=DEFAULT_WEIGHTS,
        metavar="auto|random|download|PATH",
        help="AlexNet weights: auto (ImageNet weights from the torch hub cache, else an untrained "
        f"AlexNet, said so in the report), random, download, or a state-dict file (default: {DEFAULT_WEIGHTS})",
    )
    add_runtime_args(
        p,
        "finished runs are reused from it",
        jobs="for Part 1, 1 thread each",
        threads="per training process (each of --jobs, and the Part 2 training)",
    )
    add_search_source_args(p)
    add_tensorboard_arg(p)
    p.set_defaults(handler=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cnnlab.core.config import id_count, seed_list
    from cnnlab.report import ReportOptions, build_report

    options = ReportOptions(
        runtime=runtime_options(args),
        report_dir=Path(args.report_dir),
        quick=args.quick,
        seeds=seed_list(args.seeds, "--seeds", count_flag=None),
        repeats=id_count(args.repeats, "--repeats", "repeat", list_flag=None),
        trials=args.trials,
        style=Path(args.style) if args.style else None,
        compile=not args.no_compile,
        train=not args.no_train,
        faces=args.faces,
        weights=args.weights,
        callbacks=tensorboard_callbacks(args, args.out),
        search_storage=args.storage,
        search_study=args.study,
    )
    result = build_report(options)
    ctx = result.context
    notes = []
    if ctx.part1.synthetic:
        notes.append("Part 1 on synthetic art data")
    if not ctx.part2.pretrained:
        notes.append("untrained AlexNet (random weights)")
    if ctx.quick:
        notes.append("quick mode: a smoke test, not results")
    print(
        f"report: {result.pdf}" + (f" ({result.pages} pages)" if result.pages else "") if result.pdf else result.message
    )
    if result.supplement:
        print(f"supplement: {result.supplement} ({result.supplement_pages} pages)")
    print(f"LaTeX source: {result.tex}" + (f", {result.supplement_tex}" if result.supplement_tex else ""))
    print(
        f"time: {result.seconds['experiments']:.0f} s experiments (runs in {args.out}), {result.seconds['render_compile']:.0f} s "
        f"rendering and LaTeX, {result.seconds['total']:.0f} s in all"
    )
    if notes:
        print("note: " + "; ".join(notes))
    if args.tensorboard:  # runs reused from the cache get their event files now
        from cnnlab.core.runs.catalog import list_runs

        tensorboard_done(args, args.out, [r.path for r in list_runs(args.out) if r.ok])
    return 0
