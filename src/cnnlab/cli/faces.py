"""`cnnlab faces download|info|convert-olivetti`: FaceScrub acquisition and the face data (Part 2)."""

from __future__ import annotations

import argparse
import logging
import sys

from cnnlab.cli.common import ArgumentParser, add_actors_arg, parse_actors
from cnnlab.core.errors import shorten
from cnnlab.core.images import MAX_IMAGE_PIXELS

log = logging.getLogger("cnnlab")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to the `cnnlab` parser."""
    _add_faces(sub)


def _byte_count(text: str) -> int:
    """ "20000000", "20M", "512k" -> bytes."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower().removesuffix("b").removesuffix("i")
    try:
        value = int(float(t[:-1]) * units[t[-1]]) if t and t[-1] in units else int(t)
    except (ValueError, OverflowError):  # "abc", "nanM", "infM"
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive byte count: {shorten(text)}")
    return value


def _add_faces(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("faces", help="FaceScrub download and face data (Part 2)")
    fsub = p.add_subparsers(dest="faces_command", metavar="ACTION", parser_class=ArgumentParser)
    fsub.required = True

    d = fsub.add_parser("download", help="download, verify and crop the faces of FaceScrub list files")
    d.add_argument(
        "--list", dest="lists", action="append", required=True, metavar="FILE", help="FaceScrub list file (repeatable)"
    )
    d.add_argument("--out", required=True, metavar="DIR", help="output folder (nothing is written outside it)")
    add_actors_arg(d)
    d.add_argument("--workers", type=int, default=16, help="concurrent downloads (default: 16)")
    d.add_argument("--timeout", type=float, default=15.0, help="seconds per request attempt (default: 15)")
    d.add_argument("--retries", type=int, default=2, help="retries after a transient failure (default: 2)")
    d.add_argument("--backoff", type=float, default=0.5, help="first retry delay in s, doubled each time")
    d.add_argument("--max-bytes", type=_byte_count, default=20_000_000, help="largest response (default: 20000000)")
    d.add_argument(
        "--max-pixels",
        type=int,
        default=MAX_IMAGE_PIXELS,
        help=f"largest image, checked before decoding (decompression-bomb guard; default: {MAX_IMAGE_PIXELS})",
    )
    d.add_argument("--gray-size", type=int, default=28, help="side of the grayscale copies (default: 28)")
    d.add_argument("--rgb-size", type=int, default=227, help="side of the RGB copies (default: 227)")
    d.add_argument("--retry-failed", action="store_true", help="fetch again faces that failed for good (404...)")
    d.add_argument("--no-progress", action="store_true", help="no progress bar")
    d.set_defaults(handler=_run_faces_download)

    i = fsub.add_parser("info", help="usable faces per person and the split sizes")
    i.add_argument("source", nargs="?", default="olivetti", help="download folder or 'olivetti' (default)")
    i.add_argument("--train", type=int, help="training faces per person (default: the handout's 70)")
    i.add_argument("--min-eval", type=int, help="fewest validation and test faces per person (default: 2 each)")
    i.set_defaults(handler=_run_faces_info)

    c = fsub.add_parser("convert-olivetti", help="rebuild the embedded Olivetti npz from olivettifaces.mat")
    c.add_argument("--mat", default="../shared/data/olivetti/olivettifaces.mat", help="MATLAB file")
    c.add_argument("--out", default=None, help="npz to write (default: the package's embedded file)")
    c.set_defaults(handler=_run_faces_convert)


def _run_faces_download(args: argparse.Namespace) -> int:
    from cnnlab.faces import DownloadConfig, download_faces, format_summary

    cfg = DownloadConfig(
        workers=args.workers,
        timeout=args.timeout,
        retries=args.retries,
        backoff=args.backoff,
        max_bytes=args.max_bytes,
        max_pixels=args.max_pixels,
        gray_size=args.gray_size,
        rgb_size=args.rgb_size,
        retry_failed=args.retry_failed,
    )
    report = download_faces(
        args.lists,
        args.out,
        cfg,
        actors=parse_actors(args.actors),
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    print(format_summary(report))
    return 0 if report.counts["ok"] else 1


def _run_faces_info(args: argparse.Namespace) -> int:
    from cnnlab.faces import FaceSplitConfig, describe_faces

    given = {"train_per_actor": args.train, "min_eval_per_actor": args.min_eval}
    split = FaceSplitConfig(**{k: v for k, v in given.items() if v is not None})
    people = describe_faces(args.source, split)
    print(f"{'person':<24}{'rows':>6}{'usable':>8}   train/val/test")
    for name, rows, usable, sizes in people:
        print(f"{name:<24}{rows:>6}{usable:>8}   {'/'.join(map(str, sizes)) if sizes else 'left out (too few)'}")
    kept = [s for *_rest, s in people if s]
    total = [sum(s[k] for s in kept) for k in range(3)]
    print(f"{len(kept)} of {len(people)} persons; {total[0]} train, {total[1]} val, {total[2]} test faces")
    return 0


def _run_faces_convert(args: argparse.Namespace) -> int:
    from cnnlab.faces.data.olivetti import convert_olivetti, embedded_path

    out = convert_olivetti(args.mat, args.out or embedded_path())
    print(f"wrote {out}")
    return 0
