"""`cnnlab lr-find`: the learning-rate range test of a Part 1 config (loss against an exponentially growing LR)."""

from __future__ import annotations

import argparse

from cnnlab.cli.common import add_config_args, add_device_arg, add_part1_data_arg, bind_field, resolve_run_config


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to the `cnnlab` parser."""
    p = sub.add_parser(
        "lr-find",
        help="learning-rate range test (Smith 2015): loss vs an exponentially growing LR, "
        "a suggested LR printed (never applied)",
    )
    add_config_args(p, data=False)
    add_part1_data_arg(p)
    p.add_argument("--seed", type=int, help="training seed (train.seed)")
    bind_field(p, "seed", "train.seed")
    p.add_argument("--start", type=float, default=1e-7, help="first learning rate (default: 1e-7)")
    p.add_argument("--end", type=float, default=10.0, help="last learning rate (default: 10)")
    p.add_argument("--steps", type=int, default=100, help="batches, over as many epochs as needed (default: 100)")
    from cnnlab.core.runtime import DEFAULT_OUT

    p.add_argument("--out", help=f"folder for lr_find.csv, .png and .json (default: {DEFAULT_OUT / 'lr_find'})")
    add_device_arg(p)
    p.set_defaults(handler=_run_lr_find)


def _run_lr_find(args: argparse.Namespace) -> int:
    from cnnlab.art.lr_find import DEFAULT_OUT, lr_find
    from cnnlab.core.train.lr_finder import format_lr_find

    config = resolve_run_config(args)
    out = args.out or DEFAULT_OUT
    result = lr_find(config, out, start=args.start, end=args.end, steps=args.steps, device=args.device)
    print(format_lr_find(result, config.train.optimizer.lr))
    print(f"wrote {out}/lr_find.csv, lr_find.png, lr_find.json")
    return 0
