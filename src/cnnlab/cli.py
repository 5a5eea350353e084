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


# ============================================================================= Part 1 experiment suites
def _suite_choices() -> list[str]:
    from cnnlab.suites import suite_names

    return suite_names() + ["all"]


@_command
def _add_experiment(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("experiment", help="run a Part 1 experiment suite over several seeds (questions 1.2-1.7)")
    p.add_argument("suite", choices=_suite_choices(), help="suite to run, or 'all'")
    _add_config_args(p)
    p.add_argument("--seeds", type=int, default=3, help="seeds per configuration (default: 3)")
    p.add_argument("--quick", action="store_true", help="1 seed, 2 epochs (smoke test)")
    p.add_argument("--jobs", type=int, default=None, help="parallel training processes, 1 thread each (default: CPU cores, at most 4)")
    p.add_argument("--trials", type=int, default=30, help="Optuna trials of the search suite (default: 30)")
    p.add_argument("--out", default="runs", help="runs folder (default: runs)")
    p.set_defaults(handler=_run_experiment)


def _suite_options(args: argparse.Namespace):
    from pathlib import Path

    from cnnlab.suites import SuiteOptions, default_jobs

    base = _resolve_run_config(argparse.Namespace(**{**vars(args), "epochs": None}))
    return SuiteOptions(out_root=Path(args.out), base=base, seeds=args.seeds, epochs=args.epochs, quick=args.quick,
                        jobs=args.jobs or default_jobs(), search_trials=args.trials)


def _run_experiment(args: argparse.Namespace) -> int:
    from cnnlab.suites import run_all, run_suite

    options = _suite_options(args)

    def show(result) -> None:
        print(f"== {result.name}: {result.path}")
        print((result.path / "results.md").read_text())

    if args.suite == "all":
        run_all(options, on_suite=show)
    else:
        show(run_suite(args.suite, options))
    return 0


# ----------------------------------------------------------------------------- faces (FaceScrub download, Olivetti)
def _byte_count(text: str) -> int:
    """"20000000", "20M", "512k" -> bytes."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower().removesuffix("b").removesuffix("i")
    try:
        return int(float(t[:-1]) * units[t[-1]]) if t and t[-1] in units else int(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a byte count: {text!r}") from None


@_command
def _add_faces(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("faces", help="FaceScrub download and face data (Part 2)")
    fsub = p.add_subparsers(dest="faces_command", metavar="ACTION", parser_class=_ArgumentParser)
    fsub.required = True

    d = fsub.add_parser("download", help="download, verify and crop the faces of FaceScrub list files")
    d.add_argument("--list", dest="lists", action="append", required=True, metavar="FILE",
                   help="FaceScrub list file (repeatable)")
    d.add_argument("--out", required=True, metavar="DIR", help="output folder (nothing is written outside it)")
    d.add_argument("--actors", action="append", nargs="+", metavar="NAME",
                   help='only these actors ("Alec Baldwin", Alec_Baldwin, comma-separated, or "course" '
                        'for the six of the course project)')
    d.add_argument("--workers", type=int, default=16, help="concurrent downloads (default: 16)")
    d.add_argument("--timeout", type=float, default=15.0, help="seconds per request attempt (default: 15)")
    d.add_argument("--retries", type=int, default=2, help="retries after a transient failure (default: 2)")
    d.add_argument("--backoff", type=float, default=0.5, help="first retry delay in s, doubled each time")
    d.add_argument("--max-bytes", type=_byte_count, default=20_000_000, help="largest response (default: 20000000)")
    d.add_argument("--max-pixels", type=int, default=40_000_000, help="largest image (decompression-bomb guard)")
    d.add_argument("--gray-size", type=int, default=28, help="side of the grayscale copies (default: 28)")
    d.add_argument("--rgb-size", type=int, default=227, help="side of the RGB copies (default: 227)")
    d.add_argument("--retry-failed", action="store_true", help="fetch again faces that failed for good (404...)")
    d.add_argument("--no-progress", action="store_true", help="no progress bar")
    d.set_defaults(handler=_run_faces_download)

    i = fsub.add_parser("info", help="usable faces per person and the split sizes")
    i.add_argument("source", nargs="?", default="olivetti", help="download folder or 'olivetti' (default)")
    i.add_argument("--train", type=int, default=70, help="training faces per person (default: 70)")
    i.add_argument("--val", type=int, default=20, help="validation faces per person (default: 20)")
    i.add_argument("--test", type=int, default=20, help="test faces per person (default: 20)")
    i.set_defaults(handler=_run_faces_info)

    c = fsub.add_parser("convert-olivetti", help="rebuild the embedded Olivetti npz from olivettifaces.mat")
    c.add_argument("--mat", default="../shared/data/olivetti/olivettifaces.mat", help="MATLAB file")
    c.add_argument("--out", default=None, help="npz to write (default: the package's embedded file)")
    c.set_defaults(handler=_run_faces_convert)


def _run_faces_download(args: argparse.Namespace) -> int:
    from cnnlab.faces import DownloadConfig, download_faces, format_summary

    cfg = DownloadConfig(workers=args.workers, timeout=args.timeout, retries=args.retries, backoff=args.backoff,
                         max_bytes=args.max_bytes, max_pixels=args.max_pixels, gray_size=args.gray_size,
                         rgb_size=args.rgb_size, retry_failed=args.retry_failed)
    actors = None
    if args.actors:
        actors = [a.strip() for group in args.actors for item in group for a in item.split(",") if a.strip()]
        if [a.lower() for a in actors] == ["course"]:
            from cnnlab.faces import COURSE_ACTORS

            actors = list(COURSE_ACTORS)
    report = download_faces(args.lists, args.out, cfg, actors=actors,
                            progress=not args.no_progress and sys.stderr.isatty())
    print(format_summary(report))
    return 0 if report.counts["ok"] else 1


def _run_faces_info(args: argparse.Namespace) -> int:
    from cnnlab.faces import FaceSplitConfig, describe_faces

    split = FaceSplitConfig(train_per_actor=args.train, val_per_actor=args.val, test_per_actor=args.test)
    people = describe_faces(args.source, split)
    print(f"{'person':<24}{'rows':>6}{'usable':>8}   train/val/test")
    for name, rows, usable, sizes in people:
        print(f"{name:<24}{rows:>6}{usable:>8}   {'/'.join(map(str, sizes)) if sizes else 'left out (too few)'}")
    kept = [s for *_rest, s in people if s]
    total = [sum(s[k] for s in kept) for k in range(3)]
    print(f"{len(kept)} of {len(people)} persons; {total[0]} train, {total[1]} val, {total[2]} test faces")
    return 0


def _run_faces_convert(args: argparse.Namespace) -> int:
    from cnnlab.faces.olivetti import convert_olivetti, embedded_path

    out = convert_olivetti(args.mat, args.out or embedded_path())
    print(f"wrote {out}")
    return 0


# ============================================================================= sweep: distributed hyperparameter search
@_command
def _add_sweep(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="Optuna hyperparameter search on validation accuracy, shareable by many workers/machines")
    _add_config_args(p)  # base config; --seed is the training seed, --epochs the epochs per trial
    p.add_argument("--trials", type=int, help="total trials of the study, shared by all workers (rerun to resume)")
    p.add_argument("--storage", help="sqlite:///file.db, postgresql://user:pw@host/db or a journal file *.log "
                                     "(default: sqlite:///<out>/optuna.db)")
    p.add_argument("--study", default="cnnlab", help="study name (default: cnnlab)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default: 1)")
    p.add_argument("--threads", type=int, help="torch threads per worker (default: CPU cores // workers)")
    p.add_argument("--sampler-seed", type=int, help="TPE sampler seed (default: the training seed, else 0)")
    p.add_argument("--no-prune", action="store_true", help="no median pruning")
    p.add_argument("--sampler", choices=("tpe", "random"), default="tpe", help="TPE (default) or random search")
    p.add_argument("--out", default="runs", help="runs folder for the trials' runs (default: runs)")
    p.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    p.add_argument("--show", action="store_true", help="only print the study's results; run nothing")
    p.add_argument("--top", type=int, default=10, help="trials listed, best first (default: 10)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=_run_sweep)


def _run_sweep(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from cnnlab.sweep import default_storage, load_sweep, run_sweep

    storage = args.storage or default_storage(Path(args.out))
    if args.show:
        result = load_sweep(args.study, storage)
    else:
        if args.trials is None or args.trials < 1:
            raise CnnlabError(f"--trials must be a positive integer, got {args.trials}" if args.trials is not None
                              else "--trials is required (or --show to print a study)")
        if args.workers < 1 or (args.threads is not None and args.threads < 1):
            raise CnnlabError("--workers and --threads must be positive integers")
        config = _resolve_run_config(args)
        seed = args.sampler_seed if args.sampler_seed is not None else (args.seed or 0)
        result = run_sweep(study_name=args.study, storage=storage, trials=args.trials, workers=args.workers, base=config,
                           out_root=Path(args.out), seed=seed, prune=not args.no_prune, sampler=args.sampler, threads=args.threads,
                           device=args.device)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
        return 0
    print(f"study {result.study_name!r} in {result.storage}")
    print(f"{result.n_finished} of {result.target} trials finished: {result.n_complete} complete, {result.n_pruned} pruned, "
          f"{result.n_failed} failed; {result.n_invalid} invalid architectures replaced; "
          f"{result.n_running} running, {result.n_waiting} waiting")
    if result.best_trial is None:
        print("no complete trial yet")
        return 0
    print(f"best: trial {result.best_trial}, val acc {result.best_value:.4f}, run {result.best_run_id}")
    for key, value in result.best_params.items():
        print(f"  {key} = {value:.4g}" if isinstance(value, float) else f"  {key} = {value}")
    done = sorted((t for t in result.trials if t["status"] == "complete"), key=lambda t: (-t["value"], t["number"]))
    print(f"{'trial':>6}{'val_acc':>9}{'epochs':>8}{'seconds':>9}  run")
    for t in done[: max(0, args.top)]:
        print(f"{t['number']:>6}{t['value']:>9.4f}{t['epochs']:>8}{t['duration'] or 0:>9.1f}  {t['run_id']}")
    return 0


# ============================================================================= Part 2 models: part2 mlp|weights|features|finetune, predict, explain
def _add_face_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--faces", default="olivetti", metavar="SOURCE",
                   help="'olivetti' (embedded, default) or a folder made by `cnnlab faces download`")
    p.add_argument("--actors", metavar="NAMES",
                   help="comma-separated people to use, or 'course' for the six of the course project (default: all)")
    p.add_argument("--train-per-actor", type=int, default=70, metavar="N")
    p.add_argument("--val-per-actor", type=int, default=20, metavar="N")
    p.add_argument("--test-per-actor", type=int, default=20, metavar="N")
    p.add_argument("--split-seed", type=int, default=0, metavar="S")
    p.add_argument("--out", default="runs", help="runs folder (default: runs)")
    p.add_argument("--force", action="store_true", help="retrain even if this exact run is cached")
    p.add_argument("--json", action="store_true", help="print summary.json on stdout")
    p.add_argument("--device", default="cpu", help="torch device (default: cpu)")


def _add_train_args(p: argparse.ArgumentParser, epochs: int, lr: float, weight_decay: float) -> None:
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--optimizer", default="adam", help="adam, adamw, sgd or rmsprop (default: adam)")
    p.add_argument("--lr", type=float, default=lr, help=f"learning rate (default: {lr:g})")
    p.add_argument("--weight-decay", type=float, default=weight_decay, help=f"L2 weight decay (default: {weight_decay:g})")
    p.add_argument("--patience", type=int, help="early stopping on validation loss (default: off)")
    p.add_argument("--seeds", default="0", metavar="S[,S...]",
                   help="training seeds, e.g. 0,1,2: one run each, then mean +- std (default: 0)")


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


def _face_actors(args: argparse.Namespace) -> list[str] | None:
    if not args.actors:
        return None
    if args.actors.strip().lower() == "course":
        from cnnlab.faces import COURSE_ACTORS

        return list(COURSE_ACTORS)
    return [a.strip() for a in args.actors.split(",") if a.strip()]


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise CnnlabError(f"--seeds must be comma-separated integers, got {text!r}") from None
    if not seeds or any(s < 0 for s in seeds):
        raise CnnlabError(f"--seeds must name at least one seed >= 0, got {text!r}")
    return seeds


def _train_settings(args: argparse.Namespace, seed: int):
    from cnnlab.part2 import TrainSettings

    return TrainSettings(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
                         weight_decay=args.weight_decay, patience=args.patience, seed=seed)


def _print_part2(results: list, args: argparse.Namespace, extra: Callable[[dict], list[str]] | None = None) -> None:
    import json

    from cnnlab.part2 import seed_summary

    if args.json:
        print(json.dumps([r.summary for r in results] if len(results) > 1 else results[0].summary, indent=2))
        return
    for r in results:
        s = r.summary
        print(f"run {s['run_id']}{' (cached)' if r.cached else ''}: {r.path}")
        print(f"  {s['model']}; seed {s['seed']}, best epoch {s['best_epoch']} of {s['epochs_run']} (by validation loss)")
        print(f"  accuracy: train {s['train_acc']:.3f}  val {s['val_acc']:.3f}  test {s['test_acc']:.3f}")
        for line in extra(s) if extra else []:
            print(f"  {line}")
        if s.get("warning"):
            print(f"  WARNING: {s['warning']}")
    if len(results) > 1:
        agg = seed_summary(results)
        print(f"test accuracy over {agg['n']} seeds: {agg['test_acc_mean']:.3f} +- {agg['test_acc_std']:.3f} "
              f"(val {agg['val_acc_mean']:.3f} +- {agg['val_acc_std']:.3f})")


@_command
def _add_part2(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("part2", help="Part 2 face models: MLP (2.1, 2.3), AlexNet features (2.2), fine-tuning (2.4)")
    psub = p.add_subparsers(dest="part2_command", metavar="STEP", parser_class=_ArgumentParser)
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

    from cnnlab.part2 import MLPSettings, load_face_data, train_mlp

    channels = 3 if args.rgb else 1
    settings = MLPSettings(hidden=args.hidden if isinstance(args.hidden, int) else args.hidden[0],
                           activation=args.activation, init=args.init, image_size=args.image_size,
                           channels=channels, dropout=args.dropout, standardize=args.standardize, flip=args.flip,
                           unit_rule=args.unit_rule,
                           units_per_class=args.units_per_class)
    seeds = _seeds(args.seeds)
    faces = load_face_data(args.faces, image_size=args.image_size, channels=channels, actors=_face_actors(args),
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
    from cnnlab.alexnet import resolve_weights
    from cnnlab.part2 import load_face_data

    if args.input_size < 63:
        raise CnnlabError(f"--input-size must be >= 63 for AlexNet, got {args.input_size}")
    from cnnlab.alexnet import OFFICIAL_URL

    state_dict, weights = resolve_weights(args.weights, hub_dir=args.hub_dir, url=args.weights_url or OFFICIAL_URL,
                                          progress=not args.json)
    faces = load_face_data(args.faces, image_size=args.input_size, channels=3, actors=_face_actors(args),
                           split=_face_split(args))
    return state_dict, weights, faces


def _run_part2_features(args: argparse.Namespace) -> int:
    from cnnlab.part2 import FeatureSettings, alexnet_features

    try:
        hidden = tuple(int(h) for h in args.head_hidden.split(",") if h.strip() and int(h) != 0)
    except ValueError:
        raise CnnlabError(f"--head-hidden must be comma-separated integers, got {args.head_hidden!r}") from None
    settings = FeatureSettings(layer=args.layer, hidden=hidden, dropout=args.dropout, input_size=args.input_size)
    seeds = _seeds(args.seeds)
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
    from cnnlab.part2 import FinetuneSettings, alexnet_finetune

    settings = FinetuneSettings(freeze=args.freeze, lr_scale=args.lr_scale, input_size=args.input_size)
    seeds = _seeds(args.seeds)
    state_dict, weights, faces = _load_alexnet_inputs(args)
    results = [alexnet_finetune(faces, state_dict, weights, settings, _train_settings(args, seed), args.out,
                                cache_dir=args.cache_dir, device=args.device, force=args.force, progress=not args.json)
               for seed in seeds]
    _print_part2(results, args, lambda s: [f"checkpoint: {args.out}/{s['run_id']}/model.pt"])
    return 0


@_command
def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="the top-k people for a face image, with probabilities (2.4)")
    p.add_argument("image", help="image file (a face crop, like the training faces)")
    p.add_argument("--checkpoint", required=True, help="model.pt of a `cnnlab part2` run")
    p.add_argument("--top-k", type=int, default=3)
    p.set_defaults(handler=_run_predict)


def _run_predict(args: argparse.Namespace) -> int:
    from cnnlab.faces_models import load_checkpoint, predict, untrained_note

    clf = load_checkpoint(args.checkpoint)
    if untrained_note(clf):
        log.warning("%s: this checkpoint is built on an %s", args.checkpoint, untrained_note(clf))
    for name, prob in predict(args.image, clf, top_k=args.top_k):
        print(f"{name}\t{prob:.4f}")
    return 0


@_command
def _add_explain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="attribution maps of a face image for two classes, as a PNG (2.5)")
    p.add_argument("image", help="image file (a face crop, like the training faces)")
    p.add_argument("--checkpoint", required=True, help="model.pt of a `cnnlab part2` run")
    p.add_argument("--method", default="guided-backprop",
                   help="guided-backprop (default), saliency, integrated-gradients or guided-gradcam")
    p.add_argument("--classes", metavar="A,B", help="the classes to explain (default: the two most probable)")
    p.add_argument("--out", help="output PNG (default: <image stem>_<method>.png in the current folder)")
    p.add_argument("--device", default="cpu")
    p.set_defaults(handler=_run_explain)


def _run_explain(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cnnlab.explain import explain_image

    out = args.out or f"{Path(args.image).stem}_{args.method}.png"
    classes = [c.strip() for c in args.classes.split(",") if c.strip()] if args.classes else None
    result = explain_image(args.image, args.checkpoint, out, method=args.method, classes=classes, device=args.device)
    print(f"wrote {result.path}")
    for name, prob in result.classes:
        print(f"{name}\t{prob:.4f}")
    return 0


# ============================================================================= report: the NeurIPS-style PDF of the whole practical
@_command
def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="run (or reuse) every Part 1 and Part 2 experiment and write the NeurIPS-style report PDF")
    p.add_argument("--quick", action="store_true", help="1 seed, few epochs, a few faces: a smoke test, not results")
    p.add_argument("--out", default="runs", help="runs folder; finished runs are reused from it (default: runs)")
    p.add_argument("--report-dir", default="report", help="where report.tex, figures/ and report.pdf go (default: report)")
    p.add_argument("--style", metavar="PATH", help="an official neurips_20XX.sty to typeset with (default: cnnlab's own NeurIPS-like style)")
    p.add_argument("--no-compile", action="store_true", help="write the LaTeX bundle only")
    p.add_argument("--no-train", action="store_true", help="render from the runs folder as it is: train nothing")
    p.add_argument("--seeds", type=int, default=3, help="seeds per configuration (default: 3; --quick: 1)")
    p.add_argument("--jobs", type=int, default=None, help="parallel training processes for Part 1, 1 thread each (default: CPU cores, at most 4)")
    p.add_argument("--trials", type=int, default=30, help="Optuna trials of the 1.6 search (default: 30; --quick: 3)")
    p.add_argument("--data", default="synthetic-artists",
                   help="art data: 'synthetic-artists' (embedded, default) or a folder with one sub-folder per artist")
    p.add_argument("--faces", default="olivetti", metavar="SOURCE",
                   help="'olivetti' (embedded, default) or a folder made by `cnnlab faces download`")
    p.add_argument("--weights", default="auto", metavar="auto|random|download|PATH",
                   help="AlexNet weights: auto (default: ImageNet weights from the torch hub cache, else an untrained "
                        "AlexNet, said so in the report), random, download, or a state-dict file")
    p.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    p.set_defaults(handler=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cnnlab.report import ReportOptions, build_report
    from cnnlab.suites import default_jobs

    options = ReportOptions(out_root=Path(args.out), report_dir=Path(args.report_dir), quick=args.quick, seeds=args.seeds,
                            jobs=args.jobs or default_jobs(), trials=args.trials, style=Path(args.style) if args.style else None,
                            compile=not args.no_compile, train=not args.no_train, art_data=args.data, faces=args.faces,
                            weights=args.weights, device=args.device)
    result = build_report(options)
    ctx = result.context
    notes = []
    if ctx["art"]["synthetic"]:
        notes.append("Part 1 on synthetic art data")
    if not ctx["alexnet"].get("pretrained"):
        notes.append("untrained AlexNet (random weights)")
    if ctx["quick"]:
        notes.append("quick mode: a smoke test, not results")
    print(f"report: {result.pdf}" + (f" ({result.pages} pages)" if result.pages else "") if result.pdf else result.message)
    print(f"LaTeX source: {result.tex}")
    print(f"time: {result.seconds['experiments']:.0f} s experiments (runs in {args.out}), {result.seconds['render_compile']:.0f} s "
          f"rendering and LaTeX, {result.seconds['total']:.0f} s in all")
    if notes:
        print("note: " + "; ".join(notes))
    return 0
