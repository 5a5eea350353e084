"""`cnnlab report`: every experiment, then the NeurIPS-style PDF."""

from __future__ import annotations

import argparse
import logging

from cnnlab.cli.common import (add_device_arg, add_repeats_arg, add_seeds_arg, add_tensorboard_arg, add_threads_arg, parse_seeds,
                               tensorboard_callbacks, tensorboard_done)

log = logging.getLogger("cnnlab")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to the `cnnlab` parser."""
    _add_report(sub)


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="run (or reuse) every Part 1 and Part 2 experiment and write the NeurIPS-style report PDF")
    p.add_argument("--quick", action="store_true", help="1 seed, few epochs, a few faces: a smoke test, not results")
    p.add_argument("--out", default="runs", help="runs folder; finished runs are reused from it (default: runs)")
    p.add_argument("--report-dir", default="report", help="where report.tex, figures/ and report.pdf go (default: report)")
    p.add_argument("--style", metavar="PATH", help="an official neurips_20XX.sty to typeset with (default: cnnlab's own NeurIPS-like style)")
    p.add_argument("--no-compile", action="store_true", help="write the LaTeX bundle only")
    p.add_argument("--no-train", action="store_true", help="render from the runs folder as it is: train nothing")
    from cnnlab.art.repeats import DEFAULT_REPEATS, DEFAULT_TRIALS

    add_repeats_arg(p, str(DEFAULT_REPEATS))
    add_seeds_arg(p, "3", "Part 2 seeds per model (--quick: the first alone)")
    p.add_argument("--jobs", type=int, default=None, help="parallel training processes for Part 1, 1 thread each (default: CPU cores, at most 4)")
    p.add_argument("--trials", type=int, default=DEFAULT_TRIALS, help=f"Optuna trials of the 1.6 search (default: {DEFAULT_TRIALS}; --quick: 3)")
    p.add_argument("--storage", metavar="URL", help="read the 1.6 search from an Optuna storage (e.g. postgresql://user@host/db, "
                                                   "shared by `cnnlab sweep` workers on many machines) instead of searching here; "
                                                   "needs --study (password never printed)")
    p.add_argument("--study", metavar="NAME", help="the study (made by `cnnlab sweep`) to read the 1.6 search from; its best "
                                                   "configuration is retrained on the repeats (default storage: <out>/optuna.db)")
    p.add_argument("--data", default="synthetic-artists",
                   help="art data: 'synthetic-artists' (embedded, default) or a folder with one sub-folder per artist")
    p.add_argument("--faces", default="olivetti", metavar="SOURCE",
                   help="'olivetti' (embedded, default) or a folder made by `cnnlab faces download`")
    p.add_argument("--weights", default="auto", metavar="auto|random|download|PATH",
                   help="AlexNet weights: auto (default: ImageNet weights from the torch hub cache, else an untrained "
                        "AlexNet, said so in the report), random, download, or a state-dict file")
    add_device_arg(p)
    add_threads_arg(p, "per training process (each of --jobs, and the Part 2 training)")
    add_tensorboard_arg(p)
    p.set_defaults(handler=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cnnlab.report import ReportOptions, build_report
    from cnnlab.art.suites import default_jobs

    options = ReportOptions(out_root=Path(args.out), report_dir=Path(args.report_dir), quick=args.quick, seeds=parse_seeds(args.seeds),
                            repeats=parse_seeds(args.repeats, "--repeats"),
                            jobs=args.jobs or default_jobs(), trials=args.trials, style=Path(args.style) if args.style else None,
                            compile=not args.no_compile, train=not args.no_train, art_data=args.data, faces=args.faces,
                            weights=args.weights, device=args.device, callbacks=tensorboard_callbacks(args, args.out),
                            threads=args.threads, search_storage=args.storage, search_study=args.study)
    result = build_report(options)
    ctx = result.context
    notes = []
    if ctx["art"]["synthetic"]:
        notes.append("Part 1 on synthetic art data")
    if not ctx["alexnet"].get("pretrained"):
        notes.append("untrained AlexNet (random weights)")
    if ctx["quick"]:
        notes.append("quick mode: a smoke test, not results")
    print(f"report: {result.pdf}" + (f" ({result.pages} pages)" if result.pages else "") if result.pdf else result.message)
    print(f"LaTeX source: {result.tex}")
    print(f"time: {result.seconds['experiments']:.0f} s experiments (runs in {args.out}), {result.seconds['render_compile']:.0f} s "
          f"rendering and LaTeX, {result.seconds['total']:.0f} s in all")
    if notes:
        print("note: " + "; ".join(notes))
    if args.tensorboard:  # runs reused from the cache get their event files now
        from cnnlab.core.catalog import list_runs

        tensorboard_done(args, args.out, [r.path for r in list_runs(args.out) if r.ok])
    return 0
