"""`cnnlab inspect RUN`: what a finished classification run confuses, written to <run>/diagnostics/."""

from __future__ import annotations

import argparse

from cnnlab.cli.common import add_device_arg, add_out_arg


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to the `cnnlab` parser."""
    p = sub.add_parser(
        "inspect",
        help="confusion matrix, per-class metrics, top losses, filters and saliency of a "
        "finished run, into <run>/diagnostics/ (nothing is retrained)",
    )
    p.add_argument("run", metavar="RUN", help="a run folder, or a run id (or unique prefix) in --out")
    p.add_argument(
        "--split", default="test", choices=("test", "val", "both"), help="split(s) to diagnose (default: test)"
    )
    add_out_arg(p, "the folder holding RUN")
    p.add_argument(
        "--method",
        help="attribution method of saliency.png, as for `cnnlab explain` "
        "(default: saliency for paintings, guided-backprop for faces)",
    )
    p.add_argument("--json", action="store_true", help="print diagnostics.json on stdout")
    add_device_arg(p)
    p.set_defaults(handler=_run_inspect)


def _run_inspect(args: argparse.Namespace) -> int:
    import json

    from cnnlab import inspect
    from cnnlab.core.diagnostics.summary import format_summary

    result = inspect(args.run, split=args.split, out=args.out, device=args.device, method=args.method)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(format_summary(result))
        print(f"files: {', '.join(sorted(result.files))}")
    return 0
