"""`cnnlab runs`: the table of run folders, one run's config and summary, two runs' differences, and
TensorBoard event files for runs trained without live logging."""

from __future__ import annotations

import argparse

from cnnlab.cli.common import ArgumentParser, add_out_arg
from cnnlab.core.io import json_text


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to the `cnnlab` parser."""
    from cnnlab.core.runs.catalog import ROW_KINDS

    p = sub.add_parser("runs", help="a table of the run folders (filter, sort, --json); show, diff, tensorboard")
    add_out_arg(p, "the run folders listed")
    p.add_argument(
        "--kind",
        metavar="KIND",
        help=f"only runs of this kind: {', '.join(ROW_KINDS)} or cnn (every Part 1 CNN run), or a run kind "
        "as the table's kind column shows it (a wrong one: the error lists them)",
    )
    p.add_argument("--data", metavar="NAME", help="only runs on this data (its name, or a data folder's name)")
    p.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="only runs whose resolved config (dotted key, e.g. train.optimizer.lr=1e-3) or summary matches; "
        "also !=, <, <=, >, >=; repeatable (all must hold)",
    )
    p.add_argument(
        "--sort",
        default="when",
        metavar="KEY",
        help="sort by a column (id, kind, data, seed, epochs, train_acc, val_acc, test_acc, seconds, when) "
        "or a dotted config/summary key (default: when)",
    )
    p.add_argument("--reverse", action="store_true", help="largest first")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.set_defaults(handler=_run_table)
    actions = p.add_subparsers(dest="runs_command", metavar="{show,diff,tensorboard}", parser_class=ArgumentParser)
    # --out and --json work before or after the action; SUPPRESS keeps a value given before it.
    common = ArgumentParser(add_help=False)
    common.add_argument("--out", default=argparse.SUPPRESS, help="runs folder (default: runs)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")

    s = actions.add_parser("show", parents=[common], help="one run's resolved config and summary")
    s.add_argument("run", help="a run folder, a run id, or a unique prefix of one")
    s.set_defaults(handler=_run_show)

    d = actions.add_parser(
        "diff", parents=[common], help="the config keys that differ between two runs, and their metric deltas"
    )
    d.add_argument("run_a", metavar="RUN_A", help="a run folder, a run id, or a unique prefix of one")
    d.add_argument("run_b", metavar="RUN_B")
    d.set_defaults(handler=_run_diff)

    t = actions.add_parser(
        "tensorboard", parents=[common], help="write TensorBoard event files for run folders that lack them"
    )
    t.add_argument("runs_dir", nargs="?", metavar="RUNS_DIR", help="runs folder (default: --out)")
    t.add_argument("--force", action="store_true", help="rewrite event files that exist")
    t.set_defaults(handler=_run_tensorboard)


def _run_table(args: argparse.Namespace) -> int:
    from cnnlab.core.runs.catalog import filter_runs, list_runs, sort_runs
    from cnnlab.core.runs.table import format_table

    if args.kind is not None:  # --kind is checked against the run kinds both parts register (no torch)
        import cnnlab.art.kinds  # noqa: F401
        import cnnlab.faces.kinds  # noqa: F401

    records = sort_runs(
        list_runs(args.out), args.sort, reverse=args.reverse
    )  # all runs: --sort is checked against them
    records = filter_runs(records, kind=args.kind, data=args.data, where=args.where)
    if args.json:
        print(json_text([r.to_dict() for r in records], indent=2))
        return 0
    if not records:
        print(f"no runs in {args.out}" + (" match" if args.kind or args.data or args.where else ""))
        return 0
    print(format_table(records))
    bad = sum(not r.ok for r in records)
    print(f"{len(records)} runs" + (f" ({bad} unreadable or half-written)" if bad else ""))
    return 0


def _run_show(args: argparse.Namespace) -> int:
    import yaml

    from cnnlab.core.runs.catalog import find_run, read_row

    rec = read_row(find_run(args.out, args.run))
    if args.json:
        print(
            json_text(
                {"path": str(rec.path), "status": rec.status, "config": rec.meta, "summary": rec.summary}, indent=2
            )
        )
        return 0
    print(f"run {rec.run_id} ({rec.kind or rec.status}): {rec.path}")
    if not rec.ok:
        print(f"status: {rec.status} ({rec.problem})")
    if rec.meta:
        print("\nconfig:")
        print(yaml.safe_dump(rec.meta.get("config", rec.meta), sort_keys=False).rstrip())
    if rec.summary:
        print("\nsummary:")
        print(yaml.safe_dump(rec.summary, sort_keys=False).rstrip())
    return 0


def _run_diff(args: argparse.Namespace) -> int:
    from cnnlab.core.errors import CnnlabError
    from cnnlab.core.runs.catalog import find_run, read_row
    from cnnlab.core.runs.table import diff_runs

    a, b = (read_row(find_run(args.out, ref)) for ref in (args.run_a, args.run_b))
    for rec in (a, b):
        if not rec.ok:
            raise CnnlabError(f"run {rec.run_id} is {rec.status} ({rec.problem})")
    diff = diff_runs(a, b)
    if args.json:
        print(
            json_text(
                {
                    "a": str(a.path),
                    "b": str(b.path),
                    "config": [{"key": k, "a": va, "b": vb} for k, va, vb in diff.config],
                    "metrics": [{"key": k, "a": va, "b": vb, "delta": d} for k, va, vb, d in diff.metrics],
                },
                indent=2,
            )
        )
        return 0
    print(f"A = {a.run_id} ({a.kind})\nB = {b.run_id} ({b.kind})")
    if diff.config:
        width = max(len(k) for k, _, _ in diff.config)
        print(f"\nconfig ({len(diff.config)} keys differ):")
        for key, va, vb in diff.config:
            print(f"  {key:<{width}}  {json_text(va)}  ->  {json_text(vb)}")
    else:
        print("\nconfig: identical")
    if diff.metrics:
        width = max(len(k) for k, *_ in diff.metrics)
        print(f"\n  {'metric':<{width}}  {'A':>10}  {'B':>10}  {'B - A':>10}")
        for key, va, vb, delta in diff.metrics:
            print(f"  {key:<{width}}  {va:>10.4g}  {vb:>10.4g}  {delta:>+10.4g}")
    return 0


def _run_tensorboard(args: argparse.Namespace) -> int:
    from cnnlab.core.runs.catalog import list_runs
    from cnnlab.core.train.tensorboard import logdir_command, require_tensorboard, write_runs_events

    require_tensorboard()
    root = args.runs_dir or args.out
    records = [r for r in list_runs(root) if r.ok]
    counts = write_runs_events((r.path for r in records), overwrite=args.force)
    print(
        f"{counts['written']} runs written, {counts['skipped']} already had event files"
        + (f", {counts['failed']} failed (see the warnings)" if counts["failed"] else "")
    )
    print(logdir_command(root))
    return 0
