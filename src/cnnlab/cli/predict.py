"""`cnnlab predict` and `cnnlab explain`: a Part 2 checkpoint applied to one face image (2.4), and what it looked at (2.5)."""

from __future__ import annotations

import argparse
import logging

from cnnlab.cli.common import (
    add_device_arg,
)

log = logging.getLogger("cnnlab")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to the `cnnlab` parser."""
    _add_predict(sub)
    _add_explain(sub)


def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="the top-k people for a face image, with probabilities (2.4)")
    p.add_argument("image", help="image file (a face crop, like the training faces)")
    p.add_argument("--checkpoint", required=True, help="model.pt of a `cnnlab part2` run")
    p.add_argument("--top-k", type=int, default=3)
    add_device_arg(p)
    p.set_defaults(handler=_run_predict)


def _run_predict(args: argparse.Namespace) -> int:
    from cnnlab.faces.models.checkpoints import load_checkpoint, predict, untrained_note

    clf = load_checkpoint(args.checkpoint, device=args.device)
    if untrained_note(clf):
        log.warning("%s: this checkpoint is built on an %s", args.checkpoint, untrained_note(clf))
    for name, prob in predict(args.image, clf, top_k=args.top_k):
        print(f"{name}\t{prob:.4f}")
    return 0


def _add_explain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="attribution maps of a face image for two classes, as a PNG (2.5)")
    p.add_argument("image", help="image file (a face crop, like the training faces)")
    p.add_argument("--checkpoint", required=True, help="model.pt of a `cnnlab part2` run")
    p.add_argument(
        "--method",
        default="guided-backprop",
        help="guided-backprop (default), saliency, integrated-gradients or guided-gradcam",
    )
    p.add_argument("--classes", metavar="A,B", help="the classes to explain (default: the two most probable)")
    p.add_argument("--out", help="output PNG (default: <image stem>_<method>.png in the current folder)")
    add_device_arg(p)
    p.set_defaults(handler=_run_explain)


def _run_explain(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cnnlab.faces.inspect.explain import explain_image

    out = args.out or f"{Path(args.image).stem}_{args.method}.png"
    classes = [c.strip() for c in args.classes.split(",") if c.strip()] if args.classes else None
    result = explain_image(args.image, args.checkpoint, out, method=args.method, classes=classes, device=args.device)
    print(f"wrote {result.path}")
    for name, prob in result.classes:
        print(f"{name}\t{prob:.4f}")
    return 0
