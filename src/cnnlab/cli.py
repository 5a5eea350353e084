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


# ============================================================================= Part 1: train, describe, receptive-field
def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="YAML", help="YAML file overriding the defaults")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one setting, e.g. --set train.optimizer.lr=1e-3 (repeatable; applied after --config)")
    p.add_argument("--data", help="art data: 'synthetic-artists' (embedded, default) or a folder with one sub-folder per artist")
    p.add_argument("--seed", type=int, help="training seed (train.seed)")
    p.add_argument("--epochs", type=int, help="number of epochs (train.epochs)")


def _resolve_run_config(args: argparse.Namespace):
    from cnnlab.config import RunConfig, resolve_config

    extra: dict = {}
    if getattr(args, "data", None):
        extra.setdefault("data", {})["name"] = args.data
    if getattr(args, "seed", None) is not None:
        extra.setdefault("train", {})["seed"] = args.seed
    if getattr(args, "epochs", None) is not None:
        extra.setdefault("train", {})["epochs"] = args.epochs
    return resolve_config(RunConfig, args.config, args.overrides, extra)


@_command
def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a SimpleCNN on the art data and write runs/<run id>/")
    _add_config_args(p)
    p.add_argument("--out", default="runs", help="runs folder (default: runs)")
    p.add_argument("--force", action="store_true", help="retrain even if this exact run is cached")
    p.add_argument("--json", action="store_true", help="print summary.json on stdout")
    p.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    p.set_defaults(handler=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    import json

    from cnnlab.experiments import train_run

    config = _resolve_run_config(args)
    result = train_run(config, args.out, device=args.device, progress=not args.json, force=args.force)
    s = result.summary
    if args.json:
        print(json.dumps(s, indent=2))
    else:
        note = " (cached)" if result.cached else ""
        synthetic = " [synthetic data]" if s.get("synthetic_data") else ""
        print(f"run {s['run_id']}{note}: {result.path}")
        print(f"data {s['data_name']}{synthetic}, seed {s['seed']}, {s['epochs_run']} epochs, best epoch {s['best_epoch']} by {s['selected_by']}")
        print(f"best  model: train {s['best_train_acc']:.3f}  val {s['best_val_acc']:.3f}  test {s['best_test_acc']:.3f}")
        print(f"final model: train {s['final_train_acc']:.3f}  val {s['final_val_acc']:.3f}  test {s['final_test_acc']:.3f}")
        if s.get("skipped_files"):
            print(f"skipped {s['skipped_files']} unreadable files (see summary.json / config.json)")
    return 0


@_command
def _add_describe(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("describe", help="layers, output shapes and parameters of the configured network (question 1.2)")
    _add_config_args(p)
    p.add_argument("--classes", type=int, default=11, help="number of classes (default: 11)")
    p.set_defaults(handler=_run_describe)


def _run_describe(args: argparse.Namespace) -> int:
    from cnnlab.describe import describe_run_config

    print(describe_run_config(_resolve_run_config(args), num_classes=args.classes))
    return 0


@_command
def _add_receptive_field(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("receptive-field", help="receptive field size, jump and start of a conv/pool stack (question 1.1)")
    p.add_argument("spec", nargs="?", help="layers, e.g. conv5,conv3 or conv5s2,pool2s2 (default: the configured model)")
    p.add_argument("--config", metavar="YAML", help="model config YAML (used when no spec is given)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(handler=_run_receptive_field)


def _run_receptive_field(args: argparse.Namespace) -> int:
    from cnnlab.config import RunConfig, resolve_config
    from cnnlab.receptive import layers_from_config, parse_spec, receptive_field

    if args.spec:
        layers = parse_spec(args.spec)
    else:
        layers = layers_from_config(resolve_config(RunConfig, args.config, args.overrides).model)
    print(f"{'layer':<14}{'size':>6}{'jump':>6}{'start':>8}")
    for info in receptive_field(layers):
        print(f"{info.layer:<14}{info.size:>6}{info.jump:>6}{info.start:>8.1f}")
    last = receptive_field(layers)[-1]
    print(f"receptive field of the last layer: {last.size}x{last.size} input pixels")
    return 0
