"""`cnnlab experiment SUITE|all`: the Part 1 experiment suites (1.2-1.7)."""

from __future__ import annotations

import argparse
import logging

from cnnlab.cli.common import (
    add_config_args,
    add_runtime_args,
    add_search_source_args,
    add_seed_args,
    add_tensorboard_arg,
    chosen_seeds,
    positive_int,
    resolve_run_config,
    runtime_options,
    tensorboard_callbacks,
    tensorboard_done,
)

log = logging.getLogger("cnnlab")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to the `cnnlab` parser."""
    _add_experiment(sub)


def _suite_choices() -> list[str]:
    from cnnlab.art.suites.runner import suite_names

    return suite_names() + ["all"]


class _SuiteChoices:
    """The suite names for argparse, imported only when `cnnlab experiment` parses or prints its help:
    importing the suites imports torch, which other commands (`cnnlab runs`) must not pay for."""

    def __iter__(self):
        return iter(_suite_choices())

    def __contains__(self, name: object) -> bool:
        return name in _suite_choices()


def _add_experiment(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "experiment", help="run a Part 1 experiment suite over several paired repeats (questions 1.2-1.7)"
    )
    p.add_argument("suite", choices=_SuiteChoices(), metavar="SUITE", help="suite to run: %(choices)s")
    add_config_args(p)
    from cnnlab.art.repeats import DEFAULT_REPEATS, DEFAULT_TRIALS

    add_seed_args(
        p,
        DEFAULT_REPEATS,
        "Part 1 paired repeats per variant; repeat r trains with seed r on validation fold r mod data.folds",
        "repeat",
    )
    p.add_argument("--quick", action="store_true", help="the first repeat alone, 2 epochs (smoke test)")
    p.add_argument(
        "--trials",
        type=positive_int,
        default=DEFAULT_TRIALS,
        help=f"Optuna trials of the search suite (default: {DEFAULT_TRIALS})",
    )
    add_runtime_args(
        p,
        "the runs and <out>/suites/<suite>/ tables go here",
        jobs="1 thread each",
        threads="per training process (each of --jobs)",
    )
    add_search_source_args(p)
    add_tensorboard_arg(p)
    p.set_defaults(handler=_run_experiment)


def _suite_options(args: argparse.Namespace):
    from cnnlab.art.suites import SuiteOptions
    from cnnlab.core.io import check_out_dir

    check_out_dir(args.out)  # before any work: an --out that is a file must not cost a suite
    base = resolve_run_config(argparse.Namespace(**{**vars(args), "epochs": None}))
    return SuiteOptions(
        runtime=runtime_options(args),
        base=base,
        repeats=chosen_seeds(args),
        epochs=args.epochs,
        quick=args.quick,
        search_trials=args.trials,
        callbacks=tuple(tensorboard_callbacks(args, args.out)),
        search_storage=args.storage,
        search_study=args.study,
    )


def _run_experiment(args: argparse.Namespace) -> int:
    from cnnlab.art.suites.runner import run_all, run_suite

    options = _suite_options(args)
    if args.suite == "search":
        from cnnlab.art.suites.best_model import check_search_study

        check_search_study(options)  # a bad --storage/--study: one line before anything trains
    run_paths: list = []

    def show(result) -> None:
        print(f"== {result.name}: {result.path}")
        print((result.path / "results.md").read_text())
        run_paths.extend(p for row in result.rows for p in row.get("run_paths", []))

    if args.suite == "all":
        run_all(options, on_suite=show)
    else:
        show(run_suite(args.suite, options))
    tensorboard_done(args, args.out, run_paths)
    return 0
