"""What every `cnnlab` command shares: the one-line-error parser, and flags that mean the same everywhere.

--config/--set   YAML then dotted overrides, for every command that trains
--seeds          these seeds: a comma list with ranges ("5": seed 5 alone; "0,2"; "0-4")
--repeats        a count ("3": seeds 0, 1, 2); one or the other. Part 1 repeat r trains with seed r on
                 validation fold r mod data.folds (`cnnlab report`: --repeats counts Part 1's repeats,
                 --seeds lists Part 2's seeds)
--actors         repeatable; each a comma list of names, "course" for the six of the course project
--device         checked before anything runs: an unavailable device is a one-line error
--threads        torch threads per training process (the rule: cnnlab.core.threads), set before training
--out            documented per command (a runs folder, a download folder, an image)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from cnnlab.core.errors import CnnlabError, shorten


class ArgumentParser(argparse.ArgumentParser):
    """argparse prints usage plus an error and exits 2; keep it to one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"cnnlab: error: {message}\n")


def add_seed_args(p: argparse.ArgumentParser, default: int | None, what: str, kind: str = "seed") -> None:
    """--seeds LIST (these `kind`s: "5" alone, "0,2", "0-4") or --repeats N (a count: 0 to N-1), one or the
    other; read back with `chosen_seeds(args)`. `default`: the count when neither is given (None: not given,
    the command then runs once with its config's train.seed)."""
    shown = f"{kind}s 0-{default - 1}" if default is not None else "one run with train.seed"
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--seeds",
        metavar="S[,S|A-B...]",
        help=f"{what}: these {kind}s, a comma list with ranges (5 = {kind} 5 alone; 0,2; 0-4) (default: {shown})",
    )
    group.add_argument("--repeats", metavar="N", help=f"{what}: a count, {kind}s 0 to N-1 (default: {shown})")
    p.set_defaults(seeds_default=default, seeds_kind=kind)


def chosen_seeds(args: argparse.Namespace) -> tuple[int, ...] | None:
    """The ids of --seeds or --repeats (add_seed_args), else the default count's; None when there is none."""
    from cnnlab.core.config import id_count, seed_list

    kind = getattr(args, "seeds_kind", "seed")
    if getattr(args, "seeds", None) is not None:
        return seed_list(args.seeds, "--seeds", kind)
    if getattr(args, "repeats", None) is not None:
        return id_count(args.repeats, "--repeats", kind)
    default = getattr(args, "seeds_default", None)
    return None if default is None else tuple(range(default))


def add_actors_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--actors",
        action="append",
        metavar="NAMES",
        help='people to use, comma-separated ("Alec Baldwin,Bill_Hader"), or "course" for the six of the '
        "course project; repeatable (default: everyone)",
    )


def parse_actors(values: list[str] | None) -> list[str] | None:
    """The --actors values as a list of names ("course" expanded), or None for everyone."""
    from cnnlab.faces.data.dataset import resolve_actors

    return resolve_actors(values)


def device_arg(text: str) -> str:
    """argparse type for --device: checked now, so an unavailable device never gets as far as training."""
    from cnnlab.core.device import resolve_device

    try:
        return str(resolve_device(text))
    except CnnlabError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_int(text: str) -> int:
    """argparse type for counts: a positive integer, else a one-line usage error."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {shorten(text)}")
    return value


def add_threads_arg(p: argparse.ArgumentParser, what: str = "per training process") -> None:
    """--threads N (default None: the rule of cnnlab.core.threads, 1 unless $OMP_NUM_THREADS is set)."""
    p.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        metavar="N",
        help=f"torch threads {what} (default: $OMP_NUM_THREADS if set, else 1: faster than more threads "
        "for networks this small, and far faster on a busy machine; see docs/benchmarks.md)",
    )


def apply_threads(args: argparse.Namespace) -> int | None:
    """Set torch's thread count by --threads (or the default rule) when the command has the flag."""
    if not hasattr(args, "threads"):
        return None
    from cnnlab.core.threads import use_threads

    return use_threads(args.threads)


def add_device_arg(p: argparse.ArgumentParser) -> None:
    from cnnlab.core.runtime import DEFAULT_DEVICE

    p.add_argument(
        "--device",
        default=DEFAULT_DEVICE,
        type=device_arg,
        help=f"torch device: cpu, cuda, cuda:1, mps, or auto (cuda, else mps, else cpu) (default: {DEFAULT_DEVICE})",
    )


def add_out_arg(p: argparse.ArgumentParser, what: str) -> None:
    """--out: the runs folder (`what` it holds for this command); its default is cnnlab.core.runtime.DEFAULT_OUT."""
    from cnnlab.core.runtime import DEFAULT_OUT

    p.add_argument("--out", default=str(DEFAULT_OUT), help=f"runs folder: {what} (default: {DEFAULT_OUT})")


def add_runtime_args(
    p: argparse.ArgumentParser,
    out: str,
    *,
    jobs: str | None = None,
    threads: str = "per training process",
    device: bool = True,
) -> None:
    """The runtime flags of a command (cnnlab.core.runtime.RuntimeOptions): --out, --device, --threads, and
    --jobs when `jobs` says what its processes do. Read them back with `runtime_options(args)`."""
    add_out_arg(p, out)
    if device:
        add_device_arg(p)
    add_threads_arg(p, threads)
    if jobs is not None:
        from cnnlab.core.runtime import JOBS_PER_CORE, MAX_JOBS

        p.add_argument(
            "--jobs",
            type=positive_int,
            default=None,
            metavar="N",
            help=f"parallel training processes, {jobs} (default: CPU cores, at most {MAX_JOBS}; capped at {JOBS_PER_CORE} per core)",
        )
        from cnnlab.cli.cluster import add_cluster_arg

        add_cluster_arg(p)


def runtime_options(args: argparse.Namespace) -> Any:
    """The RuntimeOptions of a command's flags (those it does not have keep their defaults)."""
    from pathlib import Path

    from cnnlab.core.runtime import RuntimeOptions

    given = {
        "out": Path(args.out),
        "device": getattr(args, "device", None),
        "threads": getattr(args, "threads", None),
        "jobs": getattr(args, "jobs", None),
        "data": getattr(args, "data", None),
        "cluster": getattr(args, "cluster", None),
    }
    return RuntimeOptions(**{k: v for k, v in given.items() if v is not None})


def add_search_source_args(p: argparse.ArgumentParser) -> None:
    """--storage/--study: read the 1.6 search from a study made by `cnnlab sweep` instead of searching here."""
    p.add_argument(
        "--storage",
        metavar="URL",
        help="read the 1.6 search from an Optuna storage (e.g. postgresql://user@host/db, "
        "shared by `cnnlab sweep` workers on many machines) instead of searching here; "
        "needs --study (password never printed)",
    )
    p.add_argument(
        "--study",
        metavar="NAME",
        help="the study (made by `cnnlab sweep`) to read the 1.6 search from; its best "
        "configuration is retrained on the repeats (default storage: <out>/optuna.db)",
    )


def add_config_args(p: argparse.ArgumentParser, data: bool = True) -> None:
    """--config and --set (and, for Part 1 commands, --data, --seed and --epochs, bound to their config
    fields as every field flag is: see bind_field)."""
    p.add_argument("--config", metavar="YAML", help="YAML file overriding the defaults")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, e.g. --set train.optimizer.lr=1e-3 (repeatable; applied after --config)",
    )
    if data:
        add_part1_data_arg(p)
        p.add_argument("--seed", type=int, help="training seed (train.seed)")
        bind_field(p, "seed", "train.seed")
        p.add_argument("--epochs", type=int, help="number of epochs (train.epochs)")
        bind_field(p, "epochs", "train.epochs")


def add_part1_data_arg(p: argparse.ArgumentParser) -> None:
    """--data, bound to data.name of the Part 1 RunConfig."""
    p.add_argument(
        "--data",
        help="art data: the embedded 'synthetic-artists' set or a folder with one sub-folder per "
        "artist (default: data.name of the config)",
    )
    bind_field(p, "data", "data.name")


# ----------------------------------------------------------------------------- flags that mirror config fields
def field_default(cls: type, path: str) -> Any:
    """The default of the (nested) field `path` of config dataclass `cls`, e.g. ("train.optimizer.lr")."""
    value: Any = cls()
    for part in path.split("."):
        value = getattr(value, part)
    return value


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value)) or "none"
    return "none" if value is None else str(value)


def add_field_arg(
    p: argparse.ArgumentParser,
    cls: type,
    path: str,
    flag: str,
    help: str,
    to_config: Callable[[Any], Any] | None = None,
    **kwargs: Any,
) -> None:
    """A flag that sets config field `path` of `cls` (through `to_config`, if given). Its default and help
    come from the dataclass; its own default is None ("not given"), so only given flags override the
    config (see config_extra). kwargs go to add_argument (type, metavar, action, const, ...)."""
    default = field_default(cls, path)
    action = p.add_argument(flag, default=None, help=f"{help} (default: {_shown(default)}; {path})", **kwargs)
    bind_field(p, action.dest, path, to_config)


def bind_field(p: argparse.ArgumentParser, dest: str, path: str, to_config: Callable[[Any], Any] | None = None) -> None:
    """Make the existing flag stored in `dest` (None = not given) set config field `path`."""
    fields = dict(p.get_default("config_fields") or {})
    fields[dest] = (path, to_config)
    p.set_defaults(config_fields=fields)


def config_extra(args: argparse.Namespace) -> dict:
    """The given field flags (add_field_arg, bind_field) as a nested mapping: resolve_config's `extra`."""
    extra: dict = {}
    for dest, (path, to_config) in (getattr(args, "config_fields", None) or {}).items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        *sections, key = path.split(".")
        node = extra
        for part in sections:
            node = node.setdefault(part, {})
        node[key] = to_config(value) if to_config else value
    return extra


def resolve_command_config(cls: type, args: argparse.Namespace) -> Any:
    """`cls` for a command: defaults <- --config YAML <- the given field flags <- --set overrides."""
    from cnnlab.core.config import resolve_config

    return resolve_config(cls, args.config, args.overrides, config_extra(args))


def resolve_run_config(args: argparse.Namespace) -> Any:
    """The Part 1 RunConfig: defaults <- --config <- --data/--seed/--epochs <- --set."""
    from cnnlab.art.config import RunConfig

    return resolve_command_config(RunConfig, args)


def add_tensorboard_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tensorboard",
        action="store_true",
        help="log every run trained to TensorBoard, live, into <out>/<run id>/tensorboard/ "
        '(then: tensorboard --logdir <out>; needs pip install -e ".[tensorboard]")',
    )


def tensorboard_callbacks(args: argparse.Namespace, out: Any) -> list:
    """[TensorBoardLogger(out)] when --tensorboard was given (a one-line error if tensorboard is missing), else []."""
    if not getattr(args, "tensorboard", False):
        return []
    from cnnlab.core.train.tensorboard import TensorBoardLogger

    return [TensorBoardLogger(out)]


def tensorboard_done(args: argparse.Namespace, out: Any, run_paths: Any = (), stream: Any = None) -> None:
    """After a --tensorboard command: event files for its cached runs (trained earlier without them), and the
    `tensorboard --logdir` line to run."""
    if not getattr(args, "tensorboard", False):
        return
    import sys

    from cnnlab.core.train.tensorboard import logdir_command, write_runs_events

    write_runs_events(run_paths)  # runs that already have events are skipped
    print(f"TensorBoard: {logdir_command(out)}", file=stream or sys.stdout)
