"""What every `cnnlab` command shares: the one-line-error parser, and flags that mean the same everywhere.

--config/--set   YAML then dotted overrides, for every command that trains
--seeds          a count ("3": seeds 0, 1, 2) or a comma list ("0,2", or "4," for seed 4 alone)
--repeats        Part 1 repeats, written like --seeds; repeat r trains with seed r on validation fold
                 r mod data.folds (for `cnnlab experiment`, --seeds is the same flag)
--actors         repeatable; each a comma list of names, "course" for the six of the course project
--device         checked before anything runs: an unavailable device is a one-line error
--out            documented per command (a runs folder, a download folder, an image)
"""

from __future__ import annotations

import argparse
from typing import Any

from cnnlab.core.errors import CnnlabError


class ArgumentParser(argparse.ArgumentParser):
    """argparse prints usage plus an error and exits 2; keep it to one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"cnnlab: error: {message}\n")


def parse_seeds(text: str, flag: str = "--seeds") -> tuple[int, ...]:
    """'3' -> (0, 1, 2); '0,2' -> (0, 2); '4,' -> (4,). Seeds (or repeats) are integers in [0, 2**32)."""
    text = str(text).strip()
    try:
        if "," in text:
            seeds = tuple(int(s) for s in text.split(",") if s.strip())
        else:
            count = int(text)
            if count < 1:
                raise CnnlabError(f"{flag} must be a positive count or a comma list, got {text!r}")
            seeds = tuple(range(count))
    except ValueError:
        raise CnnlabError(f"{flag} must be a count (3) or a comma-separated list (0,1,2), got {text!r}") from None
    if not seeds or any(not 0 <= s < 2**32 for s in seeds):
        raise CnnlabError(f"{flag} must name at least one value in [0, 2**32), got {text!r}")
    if len(set(seeds)) != len(seeds):
        raise CnnlabError(f"{flag} names a value twice: {text!r}")
    return seeds


def add_seeds_arg(p: argparse.ArgumentParser, default: str, what: str = "seeds per configuration") -> None:
    p.add_argument("--seeds", default=default, metavar="N|S,S,...",
                   help=f"{what}: a count (3 = seeds 0,1,2) or a comma list (0,2; 4, for seed 4 alone) (default: {default})")


def add_repeats_arg(p: argparse.ArgumentParser, default: str, flags: tuple[str, ...] = ("--repeats",)) -> None:
    """Part 1 repeats per variant (dest "repeats"); parse with parse_seeds(args.repeats, flags[0])."""
    p.add_argument(*flags, dest="repeats", default=default, metavar="N|R,R,...",
                   help=f"Part 1 repeats per variant: a count ({default} = repeats 0-{int(default) - 1}) or a comma list; repeat r trains "
                        f"with seed r on validation fold r mod data.folds, and every variant runs on the same repeats (default: {default})")


def add_actors_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--actors", action="append", metavar="NAMES",
                   help='people to use, comma-separated ("Alec Baldwin,Bill_Hader"), or "course" for the six of the '
                        "course project; repeatable (default: everyone)")


def parse_actors(values: list[str] | None) -> list[str] | None:
    """The --actors values as a list of names ("course" expanded), or None for everyone."""
    from cnnlab.faces.dataset import resolve_actors

    return resolve_actors(values)


def device_arg(text: str) -> str:
    """argparse type for --device: checked now, so an unavailable device never gets as far as training."""
    from cnnlab.core.device import resolve_device

    try:
        return str(resolve_device(text))
    except CnnlabError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", type=device_arg, help="torch device: cpu (default), cuda, cuda:1, mps")


def add_config_args(p: argparse.ArgumentParser, data: bool = True) -> None:
    """--config and --set (and, for Part 1 commands, --data, --seed and --epochs)."""
    p.add_argument("--config", metavar="YAML", help="YAML file overriding the defaults")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one setting, e.g. --set train.optimizer.lr=1e-3 (repeatable; applied after --config)")
    if data:
        p.add_argument("--data", help="art data: 'synthetic-artists' (embedded, default) or a folder with one sub-folder per artist")
        p.add_argument("--seed", type=int, help="training seed (train.seed)")
        p.add_argument("--epochs", type=int, help="number of epochs (train.epochs)")


def resolve_run_config(args: argparse.Namespace) -> Any:
    """The Part 1 RunConfig: defaults <- --config <- --data/--seed/--epochs <- --set."""
    from cnnlab.art.config import RunConfig
    from cnnlab.core.config import resolve_config

    extra: dict = {}
    if getattr(args, "data", None):
        extra.setdefault("data", {})["name"] = args.data
    if getattr(args, "seed", None) is not None:
        extra.setdefault("train", {})["seed"] = args.seed
    if getattr(args, "epochs", None) is not None:
        extra.setdefault("train", {})["epochs"] = args.epochs
    return resolve_config(RunConfig, args.config, args.overrides, extra)
