"""`cnnlab part2 mlp|weights|features|finetune` (and `cnn`, `recipes` in cli.part2_small), `predict` and `explain`:
the Part 2 face models (2.1-2.5).

Each run command resolves its run config (cnnlab.faces.run_configs): defaults <- --config YAML <- the
flags that mirror config fields (defaults and help read from the dataclass) <- --set key=value.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable

from cnnlab.cli.common import (
    ArgumentParser,
    add_field_arg,
    chosen_seeds,
    resolve_command_config,
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
from cnnlab.cli.part2_small import add_small_commands
from cnnlab.core.errors import CnnlabError

log = logging.getLogger("cnnlab")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to the `cnnlab` parser."""
    _add_part2(sub)


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


def _add_part2(sub: argparse._SubParsersAction) -> None:
    from cnnlab.faces.run_configs import WEIGHT_STUDY_HIDDEN, FeaturesRunConfig, FinetuneRunConfig, MLPRunConfig

    p = sub.add_parser("part2", help="Part 2 face models: MLP (2.1, 2.3), AlexNet features (2.2), fine-tuning (2.4)")
    psub = p.add_subparsers(dest="part2_command", metavar="STEP", parser_class=ArgumentParser)
    psub.required = True
    m = psub.add_parser("mlp", help="train the one-hidden-layer MLP on 28x28 faces (2.1)")
    add_face_data_args(m, MLPRunConfig)
    add_field_arg(m, MLPRunConfig, "mlp.hidden", "--hidden", "hidden units", type=int)
    add_mlp_args(m)
    m.set_defaults(handler=_run_part2_mlp)

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
    w.set_defaults(handler=_run_part2_weights)

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
    f.set_defaults(handler=_run_part2_features)

    d = psub.add_parser(
        "layers",
        help="the 2.2 head on each AlexNet depth, conv1..conv5 and pool5, all read in one forward pass",
    )
    add_face_data_args(d, FeaturesRunConfig)
    _add_alexnet_args(d, FeaturesRunConfig, "features")
    add_train_args(d, FeaturesRunConfig)
    d.set_defaults(handler=_run_part2_layers)

    add_small_commands(psub)

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
    t.set_defaults(handler=_run_part2_finetune)


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


def _run_part2_mlp(args: argparse.Namespace) -> int:
    from cnnlab.faces.run_configs import MLPRunConfig

    config = resolve_command_config(MLPRunConfig, args)
    results = _train_mlps(seeded(config, args), args)
    print_part2(results, args, _mlp_lines(args))
    finish_tensorboard(results, args)
    return 0


def _run_part2_weights(args: argparse.Namespace) -> int:
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


def _load_alexnet_inputs(config, weights_spec: str | None, args: argparse.Namespace):
    """(state dict, weights provenance, faces) for an AlexNet run config."""
    from cnnlab.faces.alexnet.model import OFFICIAL_URL
    from cnnlab.faces.alexnet.weights import resolve_weights
    from cnnlab.faces.data.run_faces import load_run_faces

    state_dict, weights = resolve_weights(
        weights_spec, hub_dir=args.hub_dir, url=args.weights_url or OFFICIAL_URL, progress=not args.json
    )
    return state_dict, weights, load_run_faces(config)


def _run_part2_features(args: argparse.Namespace) -> int:
    from cnnlab.faces.run_configs import FeaturesRunConfig
    from cnnlab.faces.training.transfer import alexnet_features

    config = resolve_command_config(FeaturesRunConfig, args)
    state_dict, weights, faces = _load_alexnet_inputs(config, config.features.weights, args)
    callbacks = tensorboard_callbacks(args, args.out)
    results = [
        alexnet_features(
            faces,
            state_dict,
            weights,
            c,
            args.out,
            cache_dir=args.cache_dir,
            device=args.device,
            force=args.force,
            progress=not args.json,
            callbacks=callbacks,
        )
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


def _run_part2_layers(args: argparse.Namespace) -> int:
    from cnnlab.cli.part2_small import RECIPE_SEEDS
    from cnnlab.core.io import json_text
    from cnnlab.faces.run_configs import FeaturesRunConfig
    from cnnlab.faces.training.layer_sweep import format_sweep, layer_sweep

    config = resolve_command_config(FeaturesRunConfig, args)
    seeds = chosen_seeds(args) or tuple(range(RECIPE_SEEDS))  # before any work
    state_dict, weights, faces = _load_alexnet_inputs(config, config.features.weights, args)
    sweep = layer_sweep(
        faces,
        state_dict,
        weights,
        config,
        seeds,
        args.out,
        cache_dir=args.cache_dir,
        device=args.device,
        callbacks=tensorboard_callbacks(args, args.out),
        force=args.force,
    )
    if args.json:
        print(json_text({"grid": sweep.grid, "seeds": list(sweep.seeds), "rows": sweep.rows}, indent=2))
        return 0
    print(format_sweep(sweep))
    print(f"each layer average-pooled to {sweep.grid}x{sweep.grid}; AlexNet: {weights['label']}")
    return 0


def _run_part2_finetune(args: argparse.Namespace) -> int:
    from cnnlab.faces.run_configs import FinetuneRunConfig
    from cnnlab.faces.training.finetune import alexnet_finetune

    config = resolve_command_config(FinetuneRunConfig, args)
    state_dict, weights, faces = _load_alexnet_inputs(config, config.finetune.weights, args)
    if args.lr_find:
        from cnnlab.core.train.lr_finder import format_lr_find
        from cnnlab.faces.training.finetune import finetune_lr_find

        found = finetune_lr_find(
            faces, state_dict, weights, seeded(config, args)[0], args.out, cache_dir=args.cache_dir, device=args.device
        )
        print(format_lr_find(found, config.train.optimizer.lr * config.finetune.lr_scale))
        print(
            f"curve: {args.out}/lr-find-finetune/lr_find.png (the LR of {found.meta['trained_layers']}; head x 1/lr_scale)"
        )
        return 0
    callbacks = tensorboard_callbacks(args, args.out)
    results = [
        alexnet_finetune(
            faces,
            state_dict,
            weights,
            c,
            args.out,
            cache_dir=args.cache_dir,
            device=args.device,
            force=args.force,
            progress=not args.json,
            callbacks=callbacks,
        )
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
