"""`cnnlab train`, `describe` and `receptive-field`: one Part 1 run and the network it trains (1.1, 1.2)."""

from __future__ import annotations

import argparse
import logging

from cnnlab.cli.common import (
    add_config_args,
    add_runtime_args,
    add_tensorboard_arg,
    resolve_run_config,
    tensorboard_callbacks,
    tensorboard_done,
)

log = logging.getLogger("cnnlab")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to the `cnnlab` parser."""
    _add_train(sub)
    _add_describe(sub)
    _add_receptive_field(sub)


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a SimpleCNN on the art data and write runs/<run id>/")
    add_config_args(p)
    add_runtime_args(p, "the run is written to <out>/<run id>/")
    p.add_argument("--force", action="store_true", help="retrain even if this exact run is cached")
    p.add_argument("--json", action="store_true", help="print summary.json on stdout")
    add_tensorboard_arg(p)
    p.set_defaults(handler=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    import sys

    from cnnlab.art.run import train_run
    from cnnlab.core.io import json_text

    config = resolve_run_config(args)
    result = train_run(
        config,
        args.out,
        device=args.device,
        progress=not args.json,
        force=args.force,
        callbacks=tensorboard_callbacks(args, args.out),
    )
    s = result.summary
    if args.json:
        print(json_text(s, indent=2))
    else:
        note = " (cached)" if result.cached else ""
        synthetic = " [synthetic data]" if s.get("synthetic_data") else ""
        print(f"run {s['run_id']}{note}: {result.path}")
        print(
            f"data {s['data_name']}{synthetic}, seed {s['seed']}, {s['epochs_run']} epochs, best epoch {s['best_epoch']} by {s['selected_by']}"
        )
        print(
            f"best  model: train {s['best_train_acc']:.3f}  val {s['best_val_acc']:.3f}  test {s['best_test_acc']:.3f}"
        )
        print(
            f"final model: train {s['final_train_acc']:.3f}  val {s['final_val_acc']:.3f}  test {s['final_test_acc']:.3f}"
        )
        if s.get("skipped_files"):
            print(f"skipped {s['skipped_files']} unreadable files (see summary.json / config.json)")
    tensorboard_done(args, args.out, [result.path], stream=sys.stderr if args.json else None)
    return 0


def _add_describe(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("describe", help="layers, output shapes and parameters of the configured network (question 1.2)")
    add_config_args(p)
    p.add_argument("--classes", type=int, default=11, help="number of classes (default: 11)")
    p.set_defaults(handler=_run_describe)


def _run_describe(args: argparse.Namespace) -> int:
    from cnnlab.art.models.describe import describe_run_config

    print(describe_run_config(resolve_run_config(args), num_classes=args.classes))
    return 0


def _add_receptive_field(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "receptive-field", help="receptive field size, jump and start of a conv/pool stack (question 1.1)"
    )
    p.add_argument(
        "spec", nargs="?", help="layers, e.g. conv5,conv3 or conv5s2,pool2s2 (default: the configured model)"
    )
    p.add_argument("--config", metavar="YAML", help="model config YAML (used when no spec is given)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(handler=_run_receptive_field)


def _run_receptive_field(args: argparse.Namespace) -> int:
    from cnnlab.art.config import RunConfig
    from cnnlab.art.models.receptive import layers_from_config, parse_spec, receptive_field
    from cnnlab.core.config import resolve_config

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
