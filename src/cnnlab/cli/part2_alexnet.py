"""`cnnlab part2 features|layers|finetune`: the AlexNet commands of Part 2 (2.2, the layer sweep, 2.4). One command
group: they share the AlexNet flags (weights, hub, input size, dropout, feature cache), load the faces and the
weights once into a cnnlab.faces AlexNetInputs, and call the same functions as `cnnlab.faces.suite.run_part2`.
The small networks' commands are cli.part2_small.
"""

from __future__ import annotations

import argparse

from cnnlab.cli.common import (
    add_field_arg,
    chosen_seeds,
    resolve_command_config,
    runtime_options,
    tensorboard_callbacks,
)
from cnnlab.cli.part2_flags import add_face_data_args, add_train_args, finish_tensorboard, print_part2, seeded
from cnnlab.core.errors import CnnlabError


def _add_alexnet_args(p: argparse.ArgumentParser, cls: type, section: str) -> None:
    add_field_arg(
        p,
        cls,
        f"{section}.weights",
        "--weights",
        "AlexNet ImageNet weights (alexnet-owt-7be5be79.pth); none = the torch hub cache, then a checked "
        "download; 'random' = an untrained AlexNet",
        metavar="PATH|random",
    )
    p.add_argument("--hub-dir", help="torch hub folder (default: torch.hub.get_dir())")
    p.add_argument(
        "--weights-url",
        default=None,
        metavar="URL",
        help="where to download the weights when not cached (default: the official torchvision URL; "
        "the file name must carry its SHA-256 prefix)",
    )
    add_field_arg(p, cls, f"{section}.input_size", "--input-size", "face size fed to AlexNet", type=int)
    add_field_arg(p, cls, f"{section}.dropout", "--dropout", "dropout", type=float)
    p.add_argument("--cache-dir", help="feature cache folder (default: <out>/cache/features)")


def _head_hidden(text: str) -> list[int]:
    """--head-hidden "64,32" -> [64, 32]; "0" -> [] (a linear head)."""
    try:
        return [int(h) for h in text.split(",") if h.strip() and int(h) != 0]
    except ValueError:
        raise CnnlabError(f"--head-hidden must be comma-separated integers, got {text!r}") from None


def add_features(psub: argparse._SubParsersAction) -> None:
    """`part2 features`: AlexNet features + a head (2.2)."""
    from cnnlab.faces.run_configs import FeaturesRunConfig

    f = psub.add_parser("features", help="AlexNet activations (conv4) as fixed features + a fully connected head (2.2)")
    add_face_data_args(f, FeaturesRunConfig)
    _add_alexnet_args(f, FeaturesRunConfig, "features")
    add_field_arg(
        f, FeaturesRunConfig, "features.layer", "--layer", "AlexNet layer: conv1..conv5, pool1, pool2, pool5, fc6, fc7"
    )
    add_field_arg(
        f,
        FeaturesRunConfig,
        "features.head_hidden",
        "--head-hidden",
        "hidden sizes of the head, comma-separated; 0 for a linear head",
        to_config=_head_hidden,
        metavar="N[,N...]",
    )
    add_train_args(f, FeaturesRunConfig)
    f.set_defaults(handler=_run_features)


def add_layers(psub: argparse._SubParsersAction) -> None:
    """`part2 layers`: the 2.2 head on every AlexNet depth."""
    from cnnlab.faces.run_configs import FeaturesRunConfig

    d = psub.add_parser(
        "layers",
        help="the 2.2 head on each AlexNet depth, conv1..conv5 and pool5, all read in one forward pass",
    )
    add_face_data_args(d, FeaturesRunConfig)
    _add_alexnet_args(d, FeaturesRunConfig, "features")
    add_train_args(d, FeaturesRunConfig)
    d.set_defaults(handler=_run_layers)


def add_finetune(psub: argparse._SubParsersAction) -> None:
    """`part2 finetune`: AlexNet fine-tuned (2.4), or its LR range test."""
    from cnnlab.faces.run_configs import FinetuneRunConfig

    t = psub.add_parser("finetune", help="AlexNet with one output per actor, fine-tuned (2.4)")
    add_face_data_args(t, FinetuneRunConfig)
    _add_alexnet_args(t, FinetuneRunConfig, "finetune")
    add_field_arg(
        t,
        FinetuneRunConfig,
        "finetune.freeze",
        "--freeze",
        "from-features (start from the trained 2.2 network and train it end to end from --train-from on), "
        "or AlexNet with a new last layer: features (conv layers frozen), all-but-last (only the new layer "
        "trains) or none",
    )
    add_field_arg(
        t,
        FinetuneRunConfig,
        "finetune.train_from",
        "--train-from",
        "from-features: the first AlexNet layer that trains (conv2..conv5); the layers before stay frozen, cached",
    )
    add_field_arg(
        t,
        FinetuneRunConfig,
        "finetune.features_run",
        "--features-run",
        "from-features: the 2.2 run folder to start from (default: the `part2 features` run of the same data, "
        "weights and seed in --out, trained first if missing)",
        metavar="RUN",
    )
    add_field_arg(
        t, FinetuneRunConfig, "finetune.lr_scale", "--lr-scale", "AlexNet layers train at lr x this", type=float
    )
    add_train_args(t, FinetuneRunConfig)
    t.add_argument(
        "--lr-find",
        action="store_true",
        help="train nothing: run the LR range test on the layers this fine-tuning trains (from its 2.2 network, "
        "on the training split) and write <out>/lr-find-finetune/",
    )
    t.set_defaults(handler=_run_finetune)


def _alexnet_inputs(config, weights_spec: str | None, args: argparse.Namespace):
    """The AlexNetInputs of a run config: its faces, the weights of `weights_spec` and --cache-dir."""
    from cnnlab.faces.training.alexnet_runs import AlexNetInputs

    return AlexNetInputs.load(
        config,
        weights_spec,
        hub_dir=args.hub_dir,
        url=args.weights_url,
        progress=not args.json,
        cache_dir=args.cache_dir,
    )


def _run_features(args: argparse.Namespace) -> int:
    from cnnlab.faces.run_configs import FeaturesRunConfig
    from cnnlab.faces.training.transfer import alexnet_features

    config = resolve_command_config(FeaturesRunConfig, args)
    inputs = _alexnet_inputs(config, config.features.weights, args)
    runtime, callbacks = runtime_options(args), tensorboard_callbacks(args, args.out)
    results = [
        alexnet_features(inputs, c, runtime, force=args.force, progress=not args.json, callbacks=callbacks)
        for c in seeded(config, args)
    ]
    print_part2(
        results,
        args,
        lambda s: [
            f"features: {s['feature_dim']} per face, {'cached' if s.get('cache_hits') else 'extracted'} "
            f"({s.get('extract_seconds', 0):.1f} s); head trained in {s['train_seconds']:.1f} s",
            f"checkpoint: {args.out}/{s['run_id']}/model.pt",
        ],
    )
    finish_tensorboard(results, args)
    return 0


def _run_layers(args: argparse.Namespace) -> int:
    from cnnlab.core.io import json_text
    from cnnlab.faces.run_configs import FeaturesRunConfig
    from cnnlab.faces.suite import DEFAULT_SEEDS
    from cnnlab.faces.training.layer_sweep import format_sweep, layer_sweep

    config = resolve_command_config(FeaturesRunConfig, args)
    seeds = chosen_seeds(args) or DEFAULT_SEEDS  # before any work; Part 2's seeds (the report's)
    inputs = _alexnet_inputs(config, config.features.weights, args)
    callbacks = tensorboard_callbacks(args, args.out)
    sweep = layer_sweep(inputs, config, seeds, runtime_options(args), callbacks=callbacks, force=args.force)
    if args.json:
        print(json_text({"grid": sweep.grid, "seeds": list(sweep.seeds), "rows": sweep.rows}, indent=2))
        return 0
    print(format_sweep(sweep))
    print(f"each layer average-pooled to {sweep.grid}x{sweep.grid}; AlexNet: {inputs.weights['label']}")
    return 0


def _run_finetune(args: argparse.Namespace) -> int:
    from cnnlab.faces.run_configs import FinetuneRunConfig
    from cnnlab.faces.training.finetune import alexnet_finetune

    config = resolve_command_config(FinetuneRunConfig, args)
    inputs = _alexnet_inputs(config, config.finetune.weights, args)
    runtime = runtime_options(args)
    if args.lr_find:
        from cnnlab.core.train.lr_finder import format_lr_find
        from cnnlab.faces.training.finetune import finetune_lr_find

        found = finetune_lr_find(inputs, seeded(config, args)[0], runtime)
        print(format_lr_find(found, config.train.optimizer.lr * config.finetune.lr_scale))
        print(
            f"curve: {args.out}/lr-find-finetune/lr_find.png (the LR of {found.meta['trained_layers']}; head x 1/lr_scale)"
        )
        return 0
    callbacks = tensorboard_callbacks(args, args.out)
    results = [
        alexnet_finetune(inputs, c, runtime, force=args.force, progress=not args.json, callbacks=callbacks)
        for c in seeded(config, args)
    ]

    def lines(s: dict) -> list[str]:
        out = [f"checkpoint: {args.out}/{s['run_id']}/model.pt"]
        if s.get("start"):
            out.insert(
                0,
                f"started from 2.2 run {s['start_run']} (val {s['start']['val_acc']:.3f}, test {s['start']['test_acc']:.3f}); "
                f"trained: {', '.join(s['trained_layers'])} + head",
            )
        return out

    print_part2(results, args, lines)
    finish_tensorboard(results, args)
    return 0
