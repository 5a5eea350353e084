"""`cnnlab`: builds the parser from each area's module and turns user errors into one line, exit 2."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from cnnlab.cli import experiment, faces, inspect, lr_find, part2, predict, report, runs, sweep, train
from cnnlab.cli.common import ArgumentParser, apply_threads
from cnnlab.cli.output import command_output
from cnnlab.core.cluster import cluster_notes, use_cluster
from cnnlab.core.errors import CnnlabError, clip, write_failure
from cnnlab.core.processes import stop_on_signals
from cnnlab.core.version import __version__

MAX_ERROR_CHARS = 2000  # an error line is cut here, whatever it quotes

AREAS = (train, lr_find, experiment, sweep, faces, part2, predict, inspect, report, runs)


def build_parser() -> ArgumentParser:
    """The whole `cnnlab` parser: each area module adds its sub-commands."""
    parser = ArgumentParser(prog="cnnlab", description="CNN practical: experiments, faces, report.")
    parser.add_argument("--version", action="version", version=f"cnnlab {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    sub.required = True
    for area in AREAS:
        area.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `cnnlab` command; returns its exit status (2 for a user error, 130 when interrupted, 143 on SIGTERM)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with stop_on_signals():  # SIGINT and SIGTERM: Stopped, passed on to workers, exit 130 or 143 cleanly
            apply_threads(args)  # every training command: torch threads before anything trains
            with command_output(args), use_cluster(getattr(args, "cluster", None)):  # logging and progress; --cluster
                for note in cluster_notes():  # the dashboard link, printed once
                    print(f"cnnlab: {note}", file=sys.stderr)
                return int(args.handler(args) or 0)
    except CnnlabError as exc:
        print(f"cnnlab: error: {clip(str(exc), MAX_ERROR_CHARS)}", file=sys.stderr)
        return 2
    except Exception as exc:
        failure = write_failure(exc)  # a full disk wherever it struck: one line, not a traceback
        if failure is None:
            raise
        where = f" {failure.filename}" if failure.filename else ""
        print(f"cnnlab: error: cannot write{where}: {failure.strerror or failure}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C: 130; SIGTERM: 143
        status = int(getattr(exc, "exit_status", 130))
        print("cnnlab: interrupted" if status == 130 else f"cnnlab: stopped by signal {status - 128}", file=sys.stderr)
        return status
