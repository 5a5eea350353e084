"""`cnnlab part2 recipes` (2.1's MLP recipe chosen on validation) and `cnnlab part2 cnn` (the small CNN on the
same faces): the Part 2 commands beside the handout's, parsed here and run by cnnlab.faces."""

from __future__ import annotations

import argparse

from cnnlab.cli.common import (
    add_field_arg,
    chosen_seeds,
    resolve_command_config,
    runtime_options,
    tensorboard_callbacks,
)
from cnnlab.cli.part2_common import (
    add_face_data_args,
    add_mlp_args,
    add_train_args,
    finish_tensorboard,
    print_part2,
    seeded,
)

RECIPE_SEEDS = 3  # seeds per recipe when --seeds is not given (the report's Part 2 seeds)


def _widths(text: str) -> list[int]:
    """--widths "16,32" -> [16, 32]; anything else a one-line error (the config checks the values)."""
    from cnnlab.core.errors import ConfigError, shorten

    try:
        return [int(w) for w in text.split(",") if w.strip()]
    except ValueError:
        raise ConfigError(f"--widths must be comma-separated integers, got {shorten(text)}") from None


def add_small_commands(psub: argparse._SubParsersAction) -> None:
    """Add `part2 recipes` and `part2 cnn` to the `cnnlab part2` parser."""
    from cnnlab.faces.run_configs import CNNRunConfig, MLPRunConfig

    r = psub.add_parser(
        "recipes",
        help="choose 2.1's MLP recipe on validation over a small grid, then evaluate test once for the chosen one",
    )
    add_face_data_args(r, MLPRunConfig, jobs="one run each")
    add_field_arg(r, MLPRunConfig, "mlp.hidden", "--hidden", "hidden units (fixed over the grid)", type=int)
    add_mlp_args(r)
    r.set_defaults(handler=_run_recipes)

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
    from cnnlab.faces.run_configs import MLPRunConfig, with_seed
    from cnnlab.faces.training.mlp_recipes import run_many, select_mlp_recipe

    config = resolve_command_config(MLPRunConfig, args)
    seeds = chosen_seeds(args) or tuple(range(RECIPE_SEEDS))
    from cnnlab.core.threads import resolve_threads

    runtime = runtime_options(args)
    common = {"device": runtime.device, "jobs": runtime.jobs, "threads": resolve_threads(runtime.threads)}
    choice = select_mlp_recipe(config, seeds, args.out, **common)
    final = run_many([("mlp", with_seed(choice.config, s), True) for s in seeds], args.out, **common)
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
