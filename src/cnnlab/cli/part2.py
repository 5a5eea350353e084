"""`cnnlab part2 mlp|weights|features|finetune`, `predict` and `explain`: the Part 2 face models (2.1-2.5)."""

from __future__ import annotations

import argparse
import logging
from typing import Callable

from cnnlab.cli.common import ArgumentParser, add_actors_arg, add_device_arg, add_seeds_arg, parse_actors, parse_seeds
from cnnlab.core.errors import CnnlabError

log = logging.getLogger("cnnlab")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to the `cnnlab` parser."""
    _add_part2(sub)
    _add_predict(sub)
    _add_explain(sub)


def _add_face_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--faces", default="olivetti", metavar="SOURCE",
                   help="'olivetti' (embedded, default) or a folder made by `cnnlab faces download`")
    add_actors_arg(p)
    p.add_argument("--train-per-actor", type=int, default=70, metavar="N")
    p.add_argument("--val-per-actor", type=int, default=20, metavar="N")
    p.add_argument("--test-per-actor", type=int, default=20, metavar="N")
    p.add_argument("--split-seed", type=int, default=0, metavar="S")
    p.add_argument("--out", default="runs", help="runs folder (default: runs)")
    p.add_argument("--force", action="store_true", help="retrain even if this exact run is cached")
    p.add_argument("--json", action="store_true", help="print summary.json on stdout")
    add_device_arg(p)


def _add_train_args(p: argparse.ArgumentParser, epochs: int, lr: float, weight_decay: float) -> None:
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--optimizer", default="adam", help="adam, adamw, sgd or rmsprop (default: adam)")
    p.add_argument("--lr", type=float, default=lr, help=f"learning rate (default: {lr:g})")
    p.add_argument("--weight-decay", type=float, default=weight_decay, help=f"L2 weight decay (default: {weight_decay:g})")
    p.add_argument("--patience", type=int, help="early stopping on validation loss (default: off)")
    add_seeds_arg(p, "1", "training seeds, one run each, then mean +- std")


def _add_alexnet_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", metavar="PATH|random",
                   help="AlexNet ImageNet weights (alexnet-owt-7be5be79.pth); default: the torch hub cache, then a "
                        "checked download; 'random' = an untrained AlexNet")
    p.add_argument("--hub-dir", help="torch hub folder (default: torch.hub.get_dir())")
    p.add_argument("--weights-url", default=None, metavar="URL",
                   help="where to download the weights when not cached (default: the official torchvision URL; "
                        "the file name must carry its SHA-256 prefix)")
    p.add_argument("--input-size", type=int, default=227, help="face size fed to AlexNet (default: 227)")
    p.add_argument("--cache-dir", help="feature cache folder (default: <out>/cache/features)")


def _face_split(args: argparse.Namespace):
    from cnnlab.faces import FaceSplitConfig

    return FaceSplitConfig(train_per_actor=args.train_per_actor, val_per_actor=args.val_per_actor,
                           test_per_actor=args.test_per_actor, seed=args.split_seed)


def _train_settings(args: argparse.Namespace, seed: int):
    from cnnlab.faces.experiments import TrainSettings

    return TrainSettings(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
                         weight_decay=args.weight_decay, patience=args.patience, seed=seed)


def _print_part2(results: list, args: argparse.Namespace, extra: Callable[[dict], list[str]] | None = None) -> None:
    import json

    from cnnlab.faces.experiments import seed_summary

    if args.json:
        print(json.dumps([r.summary for r in results] if len(results) > 1 else results[0].summary, indent=2))
        return
    for r in results:
        s = r.summary
        print(f"run {s['run_id']}{' (cached)' if r.cached else ''}: {r.path}")
        print(f"  {s['model']}; seed {s['seed']}, best epoch {s['best_epoch']} of {s['epochs_run']} (by {s['selected_by'].replace('_', ' ')})")
        print(f"  accuracy: train {s['train_acc']:.3f}  val {s['val_acc']:.3f}  test {s['test_acc']:.3f}")
        for line in extra(s) if extra else []:
            print(f"  {line}")
        if s.get("warning"):
            print(f"  WARNING: {s['warning']}")
    if len(results) > 1:
        agg = seed_summary(results)
        print(f"test accuracy over {agg['n']} seeds: {agg['test_acc_mean']:.3f} +- {agg['test_acc_std']:.3f} "
              f"(val {agg['val_acc_mean']:.3f} +- {agg['val_acc_std']:.3f})")


def _add_part2(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("part2", help="Part 2 face models: MLP (2.1, 2.3), AlexNet features (2.2), fine-tuning (2.4)")
    psub = p.add_subparsers(dest="part2_command", metavar="STEP", parser_class=ArgumentParser)
    psub.required = True
    for name, help_text in (("mlp", "train the one-hidden-layer MLP on 28x28 faces (2.1)"),
                            ("weights", "MLPs with 300 and 800 hidden units and pictures of chosen units' input weights (2.3)")):
        m = psub.add_parser(name, help=help_text)
        _add_face_data_args(m)
        if name == "mlp":
            m.add_argument("--hidden", type=int, default=300, help="hidden units (default: 300)")
        else:
            m.add_argument("--hidden", type=int, nargs="+", default=[300, 800], help="hidden sizes (default: 300 800)")
        m.add_argument("--activation", default="tanh", help="tanh or relu (default: tanh)")
        m.add_argument("--init", default="normal-0.01",
                       help="weight initialisation: normal-0.01 (default), xavier-uniform, xavier-normal, kaiming-normal, torch-default")
        m.add_argument("--rgb", action="store_true", help="RGB inputs instead of grayscale")
        m.add_argument("--image-size", type=int, default=28)
        m.add_argument("--dropout", type=float, default=0.0)
        m.add_argument("--flip", action="store_true", help="augment with random horizontal flips")
        m.add_argument("--unit-rule", default="most-selective",
                       help="which hidden units to picture: most-selective (default) or top-outgoing")
        m.add_argument("--units-per-class", type=int, default=2)
        m.add_argument("--standardize", default="pixel",
                       help="input standardisation: pixel (default: mean face and per-pixel std), channel or none")
        _add_train_args(m, epochs=100, lr=3e-4, weight_decay=1e-2)
        m.set_defaults(handler=_run_part2_mlp)

    f = psub.add_parser("features", help="AlexNet activations (conv4) as fixed features + a fully connected head (2.2)")
    _add_face_data_args(f)
    _add_alexnet_args(f)
    f.add_argument("--layer", default="conv4", help="AlexNet layer: conv1..conv5, pool1, pool2, pool5, fc6, fc7 (default: conv4)")
    f.add_argument("--head-hidden", default="64", metavar="N[,N...]",
                   help="hidden sizes of the head, comma-separated; 0 for a linear head (default: 64)")
    f.add_argument("--dropout", type=float, default=0.5)
    _add_train_args(f, epochs=30, lr=1e-4, weight_decay=1e-4)
    f.set_defaults(handler=_run_part2_features)

    t = psub.add_parser("finetune", help="AlexNet with one output per actor, fine-tuned (2.4)")
    _add_face_data_args(t)
    _add_alexnet_args(t)
    t.add_argument("--freeze", default="features",
                   help="features (default: conv layers frozen), all-but-last (only the new layer trains) or none")
    t.add_argument("--lr-scale", type=float, default=0.1, help="pretrained layers train at lr x this (default: 0.1)")
    _add_train_args(t, epochs=20, lr=1e-4, weight_decay=0.0)
    t.set_defaults(handler=_run_part2_finetune)


def _run_part2_mlp(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from cnnlab.faces.dataset import load_faces
    from cnnlab.faces.experiments import MLPSettings, train_mlp

    channels = 3 if args.rgb else 1
    settings = MLPSettings(hidden=args.hidden if isinstance(args.hidden, int) else args.hidden[0],
                           activation=args.activation, init=args.init, image_size=args.image_size,
                           channels=channels, dropout=args.dropout, standardize=args.standardize, flip=args.flip,
                           unit_rule=args.unit_rule,
                           units_per_class=args.units_per_class)
    seeds = parse_seeds(args.seeds)
    faces = load_faces(args.faces, image_size=args.image_size, channels=channels, actors=parse_actors(args.actors),
                           split=_face_split(args))
    hidden_sizes = [args.hidden] if isinstance(args.hidden, int) else list(args.hidden)
    results = [train_mlp(faces, replace(settings, hidden=h), _train_settings(args, seed), args.out,
                         device=args.device, force=args.force, progress=not args.json)
               for h in hidden_sizes for seed in seeds]

    def extra(s: dict) -> list[str]:
        path = f"{args.out}/{s['run_id']}"
        units = ", ".join(f"{u['unit']}->{u['favours_class']}" for u in s.get("weight_units", [])[:6])
        return [f"learning curves: {path}/learning_curves.png, metrics.csv; weights: {path}/weights.png ({units}, ...)",
                f"checkpoint: {path}/model.pt"]

    for h in hidden_sizes:
        group = [r for r in results if r.summary["architecture"]["hidden"] == h]
        if len(hidden_sizes) > 1 and not args.json:
            print(f"--- {h} hidden units")
        _print_part2(group, args, extra)
    return 0


def _load_alexnet_inputs(args: argparse.Namespace):
    from cnnlab.faces.weights import resolve_weights
    from cnnlab.faces.dataset import load_faces

    if args.input_size < 63:
        raise CnnlabError(f"--input-size must be >= 63 for AlexNet, got {args.input_size}")
    from cnnlab.faces.alexnet import OFFICIAL_URL

    state_dict, weights = resolve_weights(args.weights, hub_dir=args.hub_dir, url=args.weights_url or OFFICIAL_URL,
                                          progress=not args.json)
    faces = load_faces(args.faces, image_size=args.input_size, channels=3, actors=parse_actors(args.actors),
                           split=_face_split(args))
    return state_dict, weights, faces


def _run_part2_features(args: argparse.Namespace) -> int:
    from cnnlab.faces.transfer import FeatureSettings, alexnet_features

    try:
        hidden = tuple(int(h) for h in args.head_hidden.split(",") if h.strip() and int(h) != 0)
    except ValueError:
        raise CnnlabError(f"--head-hidden must be comma-separated integers, got {args.head_hidden!r}") from None
    settings = FeatureSettings(layer=args.layer, hidden=hidden, dropout=args.dropout, input_size=args.input_size)
    seeds = parse_seeds(args.seeds)
    state_dict, weights, faces = _load_alexnet_inputs(args)
    results = [alexnet_features(faces, state_dict, weights, settings, _train_settings(args, seed), args.out,
                                cache_dir=args.cache_dir, device=args.device, force=args.force, progress=not args.json)
               for seed in seeds]
    _print_part2(results, args, lambda s: [
        f"features: {s['feature_dim']} per face, {'cached' if s.get('cache_hits') else 'extracted'} "
        f"({s.get('extract_seconds', 0):.1f} s); head trained in {s['train_seconds']:.1f} s",
        f"checkpoint: {args.out}/{s['run_id']}/model.pt"])
    return 0


def _run_part2_finetune(args: argparse.Namespace) -> int:
    from cnnlab.faces.transfer import FinetuneSettings, alexnet_finetune

    settings = FinetuneSettings(freeze=args.freeze, lr_scale=args.lr_scale, input_size=args.input_size)
    seeds = parse_seeds(args.seeds)
    state_dict, weights, faces = _load_alexnet_inputs(args)
    results = [alexnet_finetune(faces, state_dict, weights, settings, _train_settings(args, seed), args.out,
                                cache_dir=args.cache_dir, device=args.device, force=args.force, progress=not args.json)
               for seed in seeds]
    _print_part2(results, args, lambda s: [f"checkpoint: {args.out}/{s['run_id']}/model.pt"])
    return 0


def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="the top-k people for a face image, with probabilities (2.4)")
    p.add_argument("image", help="image file (a face crop, like the training faces)")
    p.add_argument("--checkpoint", required=True, help="model.pt of a `cnnlab part2` run")
    p.add_argument("--top-k", type=int, default=3)
    p.set_defaults(handler=_run_predict)


def _run_predict(args: argparse.Namespace) -> int:
    from cnnlab.faces.checkpoints import load_checkpoint, predict, untrained_note

    clf = load_checkpoint(args.checkpoint)
    if untrained_note(clf):
        log.warning("%s: this checkpoint is built on an %s", args.checkpoint, untrained_note(clf))
    for name, prob in predict(args.image, clf, top_k=args.top_k):
        print(f"{name}\t{prob:.4f}")
    return 0


def _add_explain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="attribution maps of a face image for two classes, as a PNG (2.5)")
    p.add_argument("image", help="image file (a face crop, like the training faces)")
    p.add_argument("--checkpoint", required=True, help="model.pt of a `cnnlab part2` run")
    p.add_argument("--method", default="guided-backprop",
                   help="guided-backprop (default), saliency, integrated-gradients or guided-gradcam")
    p.add_argument("--classes", metavar="A,B", help="the classes to explain (default: the two most probable)")
    p.add_argument("--out", help="output PNG (default: <image stem>_<method>.png in the current folder)")
    add_device_arg(p)
    p.set_defaults(handler=_run_explain)


def _run_explain(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cnnlab.faces.explain import explain_image

    out = args.out or f"{Path(args.image).stem}_{args.method}.png"
    classes = [c.strip() for c in args.classes.split(",") if c.strip()] if args.classes else None
    result = explain_image(args.image, args.checkpoint, out, method=args.method, classes=classes, device=args.device)
    print(f"wrote {result.path}")
    for name, prob in result.classes:
        print(f"{name}\t{prob:.4f}")
    return 0
