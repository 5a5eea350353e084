"""The configuration machinery shared by every part of cnnlab.

Defaults live in frozen dataclasses. A YAML file overrides the defaults and `--set key=value`
overrides the YAML (`key` is a dotted path such as `train.optimizer.lr`; `value` is parsed as YAML,
so `model.filters=[16,32,64]` and `train.scheduler.name=cosine` both work). Unknown keys and invalid
values raise `ConfigError` naming the key.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import math
import numbers
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cnnlab.core.errors import ConfigError, clip, shorten


def check(cond: bool, message: str) -> None:
    """Raise ConfigError(message) unless `cond`: the validation helper of every config dataclass."""
    if not cond:
        raise ConfigError(message)


SEED_LIMIT = 2**32  # seeds are integers in [0, 2**32): what NumPy and every torch generator accept


def check_number(
    value: Any,
    key: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
) -> None:
    """ConfigError naming `key` unless `value` is a finite number (an int when `integer`; never a
    bool) within [low, high] (bounds None: unbounded; `low_open`/`high_open`: the bound excluded).

    Every numeric field of every config goes through here: infinities and NaN are never valid
    hyperparameters (a NaN also fails every comparison, so a bare range check cannot be trusted).
    """
    kind = "an integer" if integer else "a finite number"
    if high is None and low is not None:
        where = f" {'>' if low_open else '>='} {low:g}"
    elif low is None and high is not None:
        where = f" {'<' if high_open else '<='} {high:g}"
    elif low is not None and high is not None:
        where = f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    else:
        where = ""
    ok = isinstance(value, numbers.Integral if integer else numbers.Real) and not isinstance(value, bool)
    if ok and not integer:
        ok = math.isfinite(float(value))
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    check(ok, f"{key} must be {kind}{where}, got {shorten(value)}")


MAX_PARAMETERS = 50_000_000  # 200 MB of float32 weights (plus as much again per optimizer state): 450x the starter CNN


def check_parameter_count(count: int, what: str) -> None:
    """ConfigError when a model of `count` parameters (counted from its config, before anything is
    allocated) exceeds MAX_PARAMETERS: a typo such as filters=[100000] must not claim 13 GB."""
    check(
        count <= MAX_PARAMETERS,
        f"{what} would have {count:,} parameters, more than the limit of "
        f"{MAX_PARAMETERS:,}: use fewer or smaller layers",
    )


def check_seed(value: Any, key: str) -> None:
    """ConfigError naming `key` unless `value` is a seed: an integer in [0, 2**32)."""
    check(
        isinstance(value, numbers.Integral) and not isinstance(value, bool) and 0 <= value < SEED_LIMIT,
        f"{key} must be an integer in [0, 2**32), got {shorten(value)}",
    )


MAX_IDS = 1000  # seeds or repeats one command may ask for (a count of 10**9 must not build a huge tuple)


def as_ids(value: int | str | Sequence[int], flag: str, what: str = "seed") -> tuple[int, ...]:
    """The one rule for seed and repeat ids: from a count n (ids 0..n-1), the ids, or the old CLI text ("3":
    0, 1, 2; "0,2"; "4,": kept for API callers; the CLI reads --seeds by seed_list, --repeats by id_count).
    Each id a seed (check_seed), named once, at most MAX_IDS; else a ConfigError naming `flag`."""
    shown = shorten(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            value = [int(s) for s in text.split(",") if s.strip()] if "," in text else int(text)
        except ValueError:
            raise ConfigError(f"{flag} must be a count (3) or a comma-separated list (0,1,2), got {shown}") from None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        check(1 <= value <= MAX_IDS, f"{flag} must be a count from 1 to {MAX_IDS} or a comma list, got {shown}")
        return tuple(range(int(value)))
    check(isinstance(value, collections.abc.Iterable), f"{flag} must be a count or a list of {what}s, got {shown}")
    ids = tuple(value)
    check(0 < len(ids) <= MAX_IDS, f"{flag} must name from 1 to {MAX_IDS} {what}s, got {shown}")
    for i in ids:
        check_seed(i, f"each {what} of {flag}")
    check(len(set(ids)) == len(ids), f"{flag} names a {what} twice: {shown}")
    return tuple(int(i) for i in ids)


def seed_list(
    text: str, flag: str = "--seeds", what: str = "seed", count_flag: str | None = "--repeats"
) -> tuple[int, ...]:
    """Ids named one by one, as the CLI's --seeds takes them: "5" (5 alone), "0,2", ranges "0-4" and mixes
    ("0-2,7"), checked as as_ids does; else a ConfigError naming `flag` (a count is `count_flag`)."""
    shown, ids = shorten(text), []
    for part in filter(None, (p.strip() for p in str(text).split(","))):
        first, dash, last = part.partition("-")
        try:
            low, high = int(first), int(last) if dash else int(first)
        except ValueError:
            raise ConfigError(
                f"{flag} must list {what}s, a comma list with ranges (5; 0,2; 0-4), got {shown}"
                + (f" (for a count, use {count_flag} 3)" if count_flag else "")
            ) from None
        check(low <= high, f"{flag}: the range {shorten(part)} runs backwards")
        check(len(ids) + high - low < MAX_IDS, f"{flag} must name from 1 to {MAX_IDS} {what}s, got {shown}")
        ids.extend(range(low, high + 1))
    return as_ids(ids, flag, what)


def id_count(
    text: str | int, flag: str = "--repeats", what: str = "seed", list_flag: str | None = "--seeds"
) -> tuple[int, ...]:
    """The ids 0..n-1 of a count n, as the CLI's --repeats takes it ("3": 0, 1, 2); else a ConfigError."""
    try:
        count = int(str(text).strip())
    except ValueError:
        count = 0
    check(
        1 <= count <= MAX_IDS,
        f"{flag} must be a count from 1 to {MAX_IDS} ({what}s 0 to N-1), got {shorten(text)}"
        + (f" (to name {what}s, use {list_flag} 0,2 or 0-4)" if list_flag else ""),
    )
    return tuple(range(count))


# ----------------------------------------------------------------------------- dict <-> dataclass
def to_dict(cfg: Any) -> Any:
    """A dataclass (nested) as plain dicts, lists and scalars: what YAML and JSON hold."""
    if dataclasses.is_dataclass(cfg):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    if isinstance(cfg, Mapping):
        return {str(k): to_dict(v) for k, v in cfg.items()}
    return cfg


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Convert YAML values to the annotated type (lists -> tuples, ints -> floats, nested dicts)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{key}: invalid value {shorten(value)}")
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key} must be a mapping, got {shorten(value)}")
        return from_dict(annotation, value, prefix=key + ".")
    if origin is tuple:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise ConfigError(f"{key} must be a list, got {shorten(value)}")
        (item_type, *_rest) = typing.get_args(annotation) or (Any,)
        return tuple(_coerce(v, item_type, f"{key}[{i}]") for i, v in enumerate(value))
    if origin in (Mapping, dict, collections.abc.Mapping) or annotation is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key} must be a mapping, got {shorten(value)}")
        args = typing.get_args(annotation)
        vtype = args[1] if len(args) == 2 else Any
        return {str(k): _coerce(v, vtype, f"{key}.{clip(str(k))}") for k, v in value.items()}
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {shorten(value)}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, got {shorten(value)}")
        return value
    if annotation is float:
        if isinstance(value, str):
            # YAML 1.1 reads "1e-4" (no dot) as a string; accept it as the number it obviously is.
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number, got {shorten(value)}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, got {shorten(value)}")
        return value
    return value


def from_dict(cls: type, data: Mapping[str, Any], prefix: str = "") -> Any:
    """Build dataclass `cls` from a (partial) mapping; missing keys keep their defaults."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'} must be a mapping")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in names]
    if unknown:
        raise ConfigError(f"unknown config key {clip(f'{prefix}{unknown[0]}')} (known: {', '.join(sorted(names))})")
    kwargs = {k: _coerce(v, hints[k], prefix + k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid {prefix.rstrip('.') or 'config'}: {clip(str(exc), 200)}") from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b.c=value` -> (["a", "b", "c"], parsed YAML value)."""
    import yaml

    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"malformed override {shorten(text)}: expected key=value, e.g. train.optimizer.lr=0.001")
    try:
        value = bounded_yaml(raw, f"override {shorten(text)}") if raw.strip() else None
    except yaml.YAMLError:
        raise ConfigError(f"malformed override {shorten(text)}: value is not valid YAML") from None
    return key.split("."), value


def merge(base: dict, overrides: Mapping) -> dict:
    """Deep-merge `overrides` into a copy of `base`."""
    out = dict(base)
    for k, v in overrides.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


MAX_CONFIG_BYTES = 2**20  # a config YAML file: refused unread beyond this (real ones are a few KB)
MAX_YAML_VALUES = 100_000  # scalars, lists and mappings of a YAML document with its aliases expanded


def bounded_yaml(text: str, what: str) -> Any:
    """yaml.safe_load(text), refused with a one-line ConfigError naming `what` when the document, its
    aliases (*name) expanded, holds more than MAX_YAML_VALUES values, or nests too deeply: an alias bomb
    of a few hundred bytes must not expand into gigabytes. Malformed YAML raises yaml.YAMLError."""
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()  # a graph: an alias is one more edge to its anchor's node
        if node is None:
            return None
        if _expanded_size(node, MAX_YAML_VALUES) > MAX_YAML_VALUES:
            raise ConfigError(
                f"{what} holds more than {MAX_YAML_VALUES:,} values once its YAML aliases (*name) "
                "are expanded, or an alias inside itself: write the values out"
            )
        return loader.construct_document(node)
    except RecursionError:
        raise ConfigError(f"{what} nests too deeply") from None
    finally:
        loader.dispose()


def _expanded_size(root: Any, limit: int) -> int:
    """The number of nodes of a composed YAML graph as a tree (aliases expanded), counting stops past
    `limit`; a node that contains itself (a recursive alias) counts as past the limit."""
    import yaml

    sizes: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:  # iterative post-order walk, each distinct node once
        node, done = stack.pop()
        key = id(node)
        children = (
            [v for pair in node.value for v in pair]
            if isinstance(node, yaml.MappingNode)
            else node.value
            if isinstance(node, yaml.SequenceNode)
            else []
        )
        if done:
            active.discard(key)
            sizes[key] = min(limit + 1, 1 + sum(sizes[id(c)] for c in children))
            continue
        if key in sizes:
            continue
        if key in active:
            return limit + 1
        active.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def load_yaml(path: str | Path) -> dict:
    """Read a YAML config file (a mapping); errors name the file."""
    import yaml

    from cnnlab.core import readback

    path = Path(path)
    try:  # a regular file under the cap (a FIFO or /dev/zero given as --config is refused, never read)
        raw = readback.read_bytes(path, f"config file {path}", MAX_CONFIG_BYTES)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except readback.UntrustedData as exc:
        raise ConfigError(f"cannot read {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {clip(exc)}") from None
    try:
        data = bounded_yaml(text, f"config file {path}")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"malformed YAML in {path}{where}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return dict(data)


def resolve_config(
    cls: type, yaml_path: str | Path | None = None, overrides: Sequence[str] = (), extra: Mapping | None = None
) -> Any:
    """Defaults <- YAML file <- `extra` (e.g. CLI flags) <- `--set` overrides, validated."""
    data: dict = to_dict(cls())
    if yaml_path is not None:
        data = merge(data, load_yaml(yaml_path))
    if extra:
        data = merge(data, extra)
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for i, part in enumerate(path[:-1]):
            if not isinstance(node.get(part), dict):
                if part not in node:
                    raise ConfigError(f"unknown config key {'.'.join(path[: i + 1])} in override {shorten(text)}")
                raise ConfigError(f"override {shorten(text)}: {'.'.join(path[: i + 1])} is not a section")
            node[part] = dict(node[part])
            node = node[part]
        if path[-1] not in node and not _is_free_mapping(cls, path[:-1]):
            raise ConfigError(f"unknown config key {'.'.join(path)} in override {shorten(text)}")
        node[path[-1]] = value
    return from_dict(cls, data)


def _is_free_mapping(cls: type, path: Sequence[str]) -> bool:
    """True when `path` names a Mapping field (whose keys are free, e.g. augment.probabilities)."""
    annotation: Any = cls
    for part in path:
        if not dataclasses.is_dataclass(annotation):
            return False
        annotation = typing.get_type_hints(annotation).get(part)
    return typing.get_origin(annotation) in (Mapping, dict, collections.abc.Mapping)


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config dict as {"train.optimizer.lr": 0.0001, ...}: the dotted keys of `--set`.

    Lists and other leaves are kept as they are; an empty mapping is a leaf ({}).
    """
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out
