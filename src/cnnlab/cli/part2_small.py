"""`cnnlab part2 mlp|weights|recipes|cnn`: the small networks of Part 2, trained on 28x28 faces (2.1, 2.3, and the
small CNN beside the handout's MLP). One command group: they share the MLP's flags (add_mlp_args)
and run through cnnlab.faces' small-run functions, the recipe grid through the same `choose_recipe` and
`run_small_nets` as `cnnlab.faces.suite.run_part2`. The AlexNet commands are cli.part2_alexnet.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from cnnlab.cli.common import (
    add_field_arg,
    chosen_seeds,
    resolve_command_config,
    runtime_options,
    tensorboard_callbacks,
)
from cnnlab.cli.part2_flags import (
    add_face_data_args,
    add_train_args,
    finish_tensorboard,
    print_part2,
    seeded,
)


def add_mlp(psub: argparse._SubParsersAction) -> None:
    """`part2 mlp`: one MLP (2.1)."""
    from cnnlab.faces.run_configs import MLPRunConfig

    m = psub.add_parser("mlp", help="train the one-hidden-layer MLP on 28x28 faces (2.1)")
    add_face_data_args(m, MLPRunConfig)
    add_field_arg(m, MLPRunConfig, "mlp.hidden", "--hidden", "hidden units", type=int)
    add_mlp_args(m)
    m.set_defaults(handler=_run_mlp)


def add_weights(psub: argparse._SubParsersAction) -> None:
    """`part2 weights`: MLPs of several sizes and their weight pictures (2.3)."""
    from cnnlab.faces.run_configs import WEIGHT_STUDY_HIDDEN, MLPRunConfig

    w = psub.add_parser(
        "weights", help="MLPs with 300 and 800 hidden units and pictures of chosen units' input weights (2.3)"
    )
    add_face_data_args(w, MLPRunConfig)
    w.add_argument(
        "--hidden",
        type=int,
        nargs="+",
        default=list(WEIGHT_STUDY_HIDDEN),
        metavar="N",
        help=f"hidden sizes, one MLP each (replaces mlp.hidden; default: {' '.join(map(str, WEIGHT_STUDY_HIDDEN))})",
    )
    add_mlp_args(w)
    w.set_defaults(handler=_run_weights)


def add_recipes(psub: argparse._SubParsersAction) -> None:
    """`part2 recipes`: 2.1's MLP recipe chosen on validation."""
    from cnnlab.faces.run_configs import MLPRunConfig

    r = psub.add_parser(
        "recipes",
        help="choose 2.1's MLP recipe on validation over a small grid, then evaluate test once for the chosen one",
    )
    add_face_data_args(r, MLPRunConfig, jobs="one run each")
    add_field_arg(r, MLPRunConfig, "mlp.hidden", "--hidden", "hidden units (fixed over the grid)", type=int)
    add_mlp_args(r)
    r.set_defaults(handler=_run_recipes)


def add_cnn(psub: argparse._SubParsersAction) -> None:
    """`part2 cnn`: the small CNN on the MLP's faces."""
    from cnnlab.faces.run_configs import CNNRunConfig

    c = psub.add_parser("cnn", help="a small CNN on the MLP's 28x28 faces, splits and seeds (what convolution adds)")
    add_face_data_args(c, CNNRunConfig)
    add_field_arg(
        c,
        CNNRunConfig,
        "cnn.widths",
        "--widths",
        "channels of the conv layers, comma-separated (each: conv, ReLU, 2x2 max-pool)",
        to_config=_widths,
        metavar="N[,N...]",
    )
    add_field_arg(c, CNNRunConfig, "cnn.kernel_size", "--kernel-size", "conv kernel size (odd)", type=int)
    add_field_arg(c, CNNRunConfig, "cnn.image_size", "--image-size", "face size", type=int)
    add_field_arg(c, CNNRunConfig, "cnn.dropout", "--dropout", "dropout before the linear layer", type=float)
    add_field_arg(
        c, CNNRunConfig, "cnn.per_image", "--per-image", "standardise each face first", action="store_const", const=True
    )
    add_field_arg(c, CNNRunConfig, "cnn.flip", "--flip", "random horizontal flips", action="store_const", const=True)
    add_field_arg(c, CNNRunConfig, "cnn.shift", "--shift", "random shifts of up to N px", type=int)
    add_train_args(c, CNNRunConfig)
    c.set_defaults(handler=_run_cnn)


def add_mlp_args(p: argparse.ArgumentParser) -> None:
    """The mlp.* flags (all but the hidden size, which `mlp` and `weights` take differently)."""
    from cnnlab.faces.run_configs import INIT_DESCRIPTIONS, MLP_ACTIVATIONS, STANDARDIZE, UNIT_RULES, MLPRunConfig

    cls = MLPRunConfig
    add_field_arg(p, cls, "mlp.activation", "--activation", " or ".join(MLP_ACTIVATIONS))
    add_field_arg(p, cls, "mlp.init", "--init", f"weight initialisation: {', '.join(INIT_DESCRIPTIONS)}")
    add_field_arg(p, cls, "mlp.channels", "--rgb", "RGB inputs instead of grayscale", action="store_const", const=3)
    add_field_arg(p, cls, "mlp.image_size", "--image-size", "face size", type=int)
    add_field_arg(p, cls, "mlp.dropout", "--dropout", "dropout on the hidden units", type=float)
    add_field_arg(
        p, cls, "mlp.flip", "--flip", "augment with random horizontal flips", action="store_const", const=True
    )
    add_field_arg(p, cls, "mlp.unit_rule", "--unit-rule", f"which hidden units to picture: {' or '.join(UNIT_RULES)}")
    add_field_arg(p, cls, "mlp.units_per_class", "--units-per-class", "pictured units per person", type=int)
    add_field_arg(
        p,
        cls,
        "mlp.standardize",
        "--standardize",
        f"input standardisation: {', '.join(STANDARDIZE)} (pixel: mean face and per-pixel std)",
    )
    add_train_args(p, cls)


def _widths(text: str) -> list[int]:
    """--widths "16,32" -> [16, 32]; anything else a one-line error (the config checks the values)."""
    from cnnlab.core.errors import ConfigError, shorten

    try:
        return [int(w) for w in text.split(",") if w.strip()]
    except ValueError:
        raise ConfigError(f"--widths must be comma-separated integers, got {shorten(text)}") from None


def _mlp_lines(args: argparse.Namespace) -> Callable[[dict], list[str]]:
    def lines(s: dict) -> list[str]:
        path = f"{args.out}/{s['run_id']}"
        units = ", ".join(f"{u['unit']}->{u['favours_class']}" for u in s.get("weight_units", [])[:6])
        return [
            f"learning curves: {path}/learning_curves.png, metrics.csv; weights: {path}/weights.png ({units}, ...)",
            f"checkpoint: {path}/model.pt",
        ]

    return lines


def _train_mlps(configs: list, args: argparse.Namespace) -> list:
    from cnnlab.faces.data.run_faces import load_run_faces
    from cnnlab.faces.training.small import train_mlp

    faces = load_run_faces(configs[0])  # the configs differ only in mlp.hidden and train.seed
    callbacks = tensorboard_callbacks(args, args.out)
    return [
        train_mlp(faces, c, args.out, device=args.device, force=args.force, progress=not args.json, callbacks=callbacks)
        for c in configs
    ]


def _run_mlp(args: argparse.Namespace) -> int:
    from cnnlab.faces.run_configs import MLPRunConfig

    config = resolve_command_config(MLPRunConfig, args)
    results = _train_mlps(seeded(config, args), args)
    print_part2(results, args, _mlp_lines(args))
    finish_tensorboard(results, args)
    return 0


def _run_weights(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from cnnlab.faces.run_configs import MLPRunConfig

    config = resolve_command_config(MLPRunConfig, args)
    by_size = {h: seeded(replace(config, mlp=replace(config.mlp, hidden=h)), args) for h in dict.fromkeys(args.hidden)}
    results = _train_mlps([c for group in by_size.values() for c in group], args)
    if args.json:  # one JSON document: every run's summary
        print_part2(results, args)
    else:
        for h in by_size:
            if len(by_size) > 1:
                print(f"--- {h} hidden units")
            print_part2([r for r in results if r.summary["architecture"]["hidden"] == h], args, _mlp_lines(args))
    finish_tensorboard(results, args)
    return 0


def _run_cnn(args: argparse.Namespace) -> int:
    from cnnlab.faces.data.run_faces import load_run_faces
    from cnnlab.faces.run_configs import CNNRunConfig
    from cnnlab.faces.training.small import train_face_cnn

    config = resolve_command_config(CNNRunConfig, args)
    configs = seeded(config, args)
    faces = load_run_faces(config)
    callbacks = tensorboard_callbacks(args, args.out)
    results = [
        train_face_cnn(
            faces, c, args.out, device=args.device, force=args.force, progress=not args.json, callbacks=callbacks
        )
        for c in configs
    ]
    print_part2(results, args, lambda s: [f"{s['params']:,} parameters; checkpoint: {args.out}/{s['run_id']}/model.pt"])
    finish_tensorboard(results, args)
    return 0


def _run_recipes(args: argparse.Namespace) -> int:
    from cnnlab.core.io import json_text
    from cnnlab.core.stats import summarize
    from cnnlab.faces.run_configs import MLPRunConfig
    from cnnlab.faces.suite import DEFAULT_SEEDS, choose_recipe, run_small_nets

    config = resolve_command_config(MLPRunConfig, args)
    seeds = chosen_seeds(args) or DEFAULT_SEEDS  # Part 2's seeds (the report's)
    runtime = runtime_options(args)
    choice = choose_recipe(config, seeds, runtime)
    final = run_small_nets(choice.config, seeds, runtime, hidden=(choice.config.mlp.hidden,), cnn=False)
    test = summarize(s["test_acc"] for s in final)
    if args.json:
        print(json_text({"rows": choice.rows, "chosen": choice.chosen, "rule": choice.rule, "test": final}, indent=2))
        return 0
    width = max(len(r["recipe"]) for r in choice.rows)
    print(f"{'recipe':<{width}}  validation accuracy (mean +- SE, n = {len(seeds)})")
    for row in sorted(choice.rows, key=lambda r: -r["val_acc_mean"]):
        mark = "  <- chosen" if row["chosen"] else ""
        print(f"{row['recipe']:<{width}}  {row['val_acc_mean']:.3f} +- {row['val_acc_se']:.3f}{mark}")
    print(f"rule: {choice.rule}")
    print(
        f"chosen: {choice.chosen}; test accuracy, evaluated once: {test.mean:.3f} +- {test.se:.3f} (n = {test.n}); "
        f"runs: {', '.join(s['path'] for s in final)}"
    )
    return 0
