"""The `cnnlab` command line: parses arguments and calls library functions, nothing more.

Each sub-command has an `_add_<name>(subparsers)` that declares its arguments and binds a handler.
User errors (`CnnlabError`) become one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, Sequence

from cnnlab import __version__
from cnnlab.errors import CnnlabError

log = logging.getLogger("cnnlab")


class _ArgumentParser(argparse.ArgumentParser):
    """argparse prints usage plus an error and exits 2; keep it to one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"cnnlab: error: {message}\n")


# ----------------------------------------------------------------------------- registration
_ADDERS: list[Callable[[argparse._SubParsersAction], None]] = []


def _command(fn: Callable[[argparse._SubParsersAction], None]) -> Callable:
    _ADDERS.append(fn)
    return fn


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog="cnnlab", description="CNN practical: experiments, faces, report.")
    parser.add_argument("--version", action="version", version=f"cnnlab {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_ArgumentParser)
    sub.required = True
    for add in _ADDERS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.handler(args) or 0)
    except CnnlabError as exc:
        print(f"cnnlab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cnnlab: interrupted", file=sys.stderr)
        return 130


# ----------------------------------------------------------------------------- commands
# Part 1 (train, describe, receptive-field), experiments, faces, part 2 and report commands are
# added below, each in its own section.
