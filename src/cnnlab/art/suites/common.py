"""Part 1 experiment suites (questions 1.2-1.7): every configuration over several paired repeats.

A suite is a list of variants (a label, a group and `--set`-style overrides of a base RunConfig).
Each variant runs once per repeat through `run.train_run`, so every run is cached by content and a
killed suite resumes where it stopped. Repeat r trains with train.seed = r on validation fold
data.fold = r % data.folds (`variant_config`); the test split is the same for every repeat. Every
variant of a suite runs on the same repeats as its reference, so differences are paired
(`run_paired`, `run_on_repeats_of`, `paired_columns`; the verdict rule is cnnlab.core.stats). A
suite writes, into <out>/suites/<name>/: results.csv and results.md (mean ± std and n per variant,
the paired difference from the reference), suite.json (every run's numbers per repeat, the run ids
behind them, and the findings) and its plots.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from cnnlab.art.config import RunConfig
from cnnlab.art.repeats import DEFAULT_REPEATS, DEFAULT_TRIALS
from cnnlab.core.cluster import cache_checked_first
from cnnlab.core.config import as_ids, resolve_config, to_dict
from cnnlab.core.errors import ConfigError
from cnnlab.core.registry import Registry
from cnnlab.core.runtime import RuntimeOptions, RuntimeView
from cnnlab.core.stats import NO_EFFECT, aggregate, compare_records, format_comparison, format_record
from cnnlab.core.train.callbacks import Callback

log = logging.getLogger(__name__)

METRICS = ("train_acc", "val_acc", "test_acc", "val_loss", "epochs_run", "best_epoch", "train_seconds")
PER_REPEAT = (
    "train_acc",
    "val_acc",
    "test_acc",
    "val_loss",
    "epochs_run",
    "best_epoch",
)  # kept per repeat in every row
# Repeats per variant by default: one per validation fold (data.folds = 5), so every non-test image is
# validated on once; the whole `cnnlab report` stays within its 15-minute budget on 2 cores (docs/benchmarks.md).


@dataclass(frozen=True)
class Variant:
    label: str
    group: str
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class SuiteOptions(RuntimeView):
    """How to run a suite: where and how (`runtime`), which repeats, an epochs override, quick mode.

    `repeats` is a count (5: repeats 0-4) or the repeat ids themselves; it is stored as a tuple.
    Repeat r trains with seed r on validation fold r % data.folds (the CLI's `--seeds` sets it).
    `callbacks` are added to every run's training (they must pickle: runs train in worker processes).
    """

    runtime: RuntimeOptions = field(default_factory=RuntimeOptions)
    base: RunConfig = field(default_factory=RunConfig)
    repeats: tuple[int, ...] | int = DEFAULT_REPEATS
    epochs: int | None = None
    quick: bool = False
    search_trials: int = DEFAULT_TRIALS
    callbacks: tuple[Callback, ...] = ()
    search_storage: str | None = (
        None  # 1.6: read study `search_study` from this Optuna storage (default: <out>/optuna.db)
    )
    search_study: str | None = None  # 1.6: a study made by `cnnlab sweep` to read instead of searching here

    def __post_init__(self) -> None:
        check_search_source(self.search_storage, self.search_study)
        object.__setattr__(self, "repeats", as_ids(self.repeats, "--repeats", "repeat"))
        object.__setattr__(self, "callbacks", tuple(self.callbacks))
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError("--epochs must be a positive integer")

    @property
    def run_repeats(self) -> tuple[int, ...]:
        """The repeats each variant runs: the first alone in quick mode."""
        return self.repeats[:1] if self.quick else self.repeats

    @property
    def n_repeats(self) -> int:
        return len(self.run_repeats)

    @property
    def n_epochs(self) -> int | None:
        return 2 if self.quick and self.epochs is None else self.epochs

    @property
    def suite_root(self) -> Path:
        return Path(self.out_root) / "suites"


def check_search_source(storage: str | None, study: str | None) -> None:
    """`--storage URL --study NAME` (or `--study NAME` alone, in the runs folder's optuna.db) names a study to read."""
    if study is not None and not str(study).strip():
        raise ConfigError("--study must not be empty")
    if storage is not None and study is None:
        raise ConfigError("--storage needs --study NAME: the study (made by `cnnlab sweep`) to read the search from")


@dataclass
class SuiteResult:
    name: str
    path: Path
    rows: list[dict]
    findings: list[str]
    extra: dict = field(default_factory=dict)


SUITES: Registry[SuiteResult] = Registry("experiment suite")
SUITE_ORDER = ("baseline", "pooling", "regularization", "architecture", "search", "controls", "robustness")


# ----------------------------------------------------------------------------- running variants
def with_overrides(base: RunConfig, overrides: Sequence[str]) -> RunConfig:
    """`base` with `--set`-style overrides applied (a suite's training regime on top of the user's base)."""
    return resolve_config(RunConfig, None, list(overrides), extra=to_dict(base)) if overrides else base


def variant_config(base: RunConfig, variant: Variant, repeat: int, epochs: int | None) -> RunConfig:
    """The config of one repeat of a variant: the variant's overrides, then train.seed = repeat and
    data.fold = repeat % data.folds (the test split is the same for every repeat), then the epoch budget."""
    config = with_overrides(base, variant.overrides)
    train = replace(config.train, seed=repeat, **({} if epochs is None else {"epochs": epochs}))
    return replace(config, train=train, data=replace(config.data, fold=repeat % config.data.folds))


_WORKER_DATA: dict = {}


@cache_checked_first  # on a cluster, cached runs are found in the client's runs folder and never sent
def _run_one(config: RunConfig, out_root: str, device: str, callbacks: Sequence[Callback] = ()) -> dict:
    """Train (or reuse) one run; returns its summary plus the run folder. Runs in a worker."""
    from cnnlab.art.run import prepare_data, train_run

    key = config.data  # frozen: every field (the fold and grayscale too) is part of the key
    if key not in _WORKER_DATA:
        _WORKER_DATA[key] = prepare_data(config)
    # No per-run learning-curve PNG: suites plot their own aggregated figures (saves ~0.4 s a run).
    result = train_run(config, out_root, data=_WORKER_DATA[key], device=device, write_plot=False, callbacks=callbacks)
    return {**result.summary, "path": str(result.path), "cached": result.cached}


def run_configs(configs: Sequence[RunConfig], options: SuiteOptions) -> list[dict]:
    """Run many configs (cached ones are reused), in `options.jobs` processes; summaries in order."""
    from cnnlab.core.pool import map_jobs
    from cnnlab.core.threads import resolve_threads

    root = str(options.out_root)
    calls = [(c, root, options.device, options.callbacks) for c in configs]
    out = map_jobs(_run_one, calls, options.jobs, resolve_threads(options.threads))
    n_cached = sum(s["cached"] for s in out)
    if n_cached:
        log.info("%d of %d runs were cached and reused", n_cached, len(out))
    return out


def run_variants(
    variants: Sequence[Variant],
    options: SuiteOptions,
    base: RunConfig | None = None,
    repeats: Sequence[int] | None = None,
    bases: Sequence[RunConfig] | None = None,
) -> list[dict]:
    """Every variant on the same repeats (default: options.run_repeats); one row per variant. `bases`: one
    base config per variant instead of `base` (the 1.6 candidates, each its own configuration).

    A row has the variant's label, group and overrides, mean/std/n of METRICS, "repeats" and
    "per_repeat" (PER_REPEAT values in repeat order: what paired comparisons read), run ids and paths.
    """
    base = base or options.base
    repeats = list(options.run_repeats if repeats is None else repeats)
    per_variant = list(bases) if bases is not None else [base] * len(variants)
    configs = [variant_config(b, v, r, options.n_epochs) for v, b in zip(variants, per_variant) for r in repeats]
    summaries = run_configs(configs, options)
    rows = []
    for i, v in enumerate(variants):
        runs = summaries[i * len(repeats) : (i + 1) * len(repeats)]
        missing = [m for m in METRICS if any(m not in r for r in runs)]
        if missing:
            raise ValueError(f"run summaries of {v.label!r} lack {', '.join(missing)}")
        row = {"group": v.group, "variant": v.label, **aggregate(runs, METRICS)}
        row["params"] = runs[0]["params"]
        row["macs"] = runs[0]["macs"]
        row["overrides"] = " ".join(v.overrides)
        # The reported model is the epoch early stopping chose on validation: its validation accuracy is optimistic.
        row["selected_on_validation"] = all(r.get("reported_model") == "best" for r in runs)
        row["repeats"] = list(repeats)
        row["per_repeat"] = {m: [r[m] for r in runs] for m in PER_REPEAT}
        row["run_ids"] = [r["run_id"] for r in runs]
        row["run_paths"] = [r["path"] for r in runs]
        rows.append(row)
    return rows


def run_on_repeats_of(
    reference: Mapping, variants: Sequence[Variant], options: SuiteOptions, base: RunConfig | None = None
) -> list[dict]:
    """Run `variants` on exactly the repeats (fold, seed) of `reference`, a row of any suite, and add
    the paired differences from it (`paired_columns`): how a new suite compares with an existing row."""
    rows = run_variants(variants, options, base, repeats=reference["repeats"])
    paired_columns(rows, reference)
    return rows


def run_paired(
    reference: Variant, variants: Sequence[Variant], options: SuiteOptions, base: RunConfig | None = None
) -> list[dict]:
    """The reference and every variant on the same repeats; rows (reference first) with the paired
    differences of each variant from the reference (`paired_columns`)."""
    rows = run_variants([reference, *variants], options, base)
    paired_columns(rows, rows[0])
    return rows


def paired_columns(rows: Sequence[dict], reference: Mapping, keys: Sequence[str] = ("val_acc", "test_acc")) -> None:
    """Add row["vs_reference"] to every row but the reference: per key, the paired comparison
    (`cnnlab.core.stats.compare_records`): diff, se, n, low, high, verdict."""
    for r in rows:
        if r is reference:
            continue
        out: dict = {"reference": reference["variant"]}
        for k in keys:
            c = compare_records(r, reference, k)
            finite = lambda v: v if v == v else None  # noqa: E731  (nan, for one repeat, is null in JSON)
            out[k] = {
                "diff": c.diff,
                "se": finite(c.se),
                "n": c.n,
                "low": finite(c.low),
                "high": finite(c.high),
                "verdict": c.verdict,
            }
        r["vs_reference"] = out


# ----------------------------------------------------------------------------- writing results
def write_suite(
    name: str,
    options: SuiteOptions,
    rows: list[dict],
    findings: list[str],
    extra: dict | None = None,
    columns: Sequence[str] = ("train_acc", "val_acc"),
) -> SuiteResult:
    """results.csv, results.md and suite.json in <out>/suites/<name>/ (atomic writes)."""
    import csv
    import io

    from cnnlab.core.io import atomic_write_json, atomic_write_text
    from cnnlab.core.version import __version__

    path = options.suite_root / name
    path.mkdir(parents=True, exist_ok=True)
    skip = ("run_paths", "per_repeat", "vs_reference")
    flat = [
        {k: (" ".join(map(str, v)) if isinstance(v, list) else v) for k, v in r.items() if k not in skip} for r in rows
    ]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(dict.fromkeys(k for r in flat for k in r)))
    writer.writeheader()
    writer.writerows(flat)
    atomic_write_text(path / "results.csv", buf.getvalue())
    paired = any("vs_reference" in r for r in rows)
    header = (
        ["group", "variant"]
        + [c.replace("_", " ") for c in columns]
        + (["paired Δ val vs reference"] if paired else [])
        + ["params", "epochs"]
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = [r["group"], r["variant"]] + [format_record(r, c) for c in columns]
        if paired:
            cells.append(_paired_cell(r))
        cells += [f"{r['params']:,}", f"{r['epochs_run_mean']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    data = _data_note(rows)
    repeats = rows[0]["repeats"] if rows else list(options.run_repeats)
    note = (
        f"{len(repeats)} repeat(s) per variant (repeat r: seed r, validation fold r mod {options.base.data.folds}; "
        "the same repeats for every variant, so differences are paired)."
    )
    md = f"# {name}\n\n{data}\n\n{note}\n\n" + "\n".join(lines) + "\n"
    if findings:
        md += "\n## Findings\n\n" + "\n".join(f"- {f}" for f in findings) + "\n"
    atomic_write_text(path / "results.md", md)
    meta = {
        "suite": name,
        "version": __version__,
        "repeats": repeats,
        "n_repeats": len(repeats),
        "folds": options.base.data.folds,
        "epochs": options.n_epochs,
        "quick": options.quick,
        "base_config": to_dict(options.base),
        "data": data,
        "rows": rows,
        "findings": findings,
        **(extra or {}),
    }
    atomic_write_json(path / "suite.json", meta)
    return SuiteResult(name, path, rows, findings, extra or {})


def _paired_cell(row: Mapping) -> str:
    vs = row.get("vs_reference")
    if not vs:
        return "(reference)"
    c = vs["val_acc"]
    se = f" ± {c['se']:.3f}" if c["se"] is not None else ""
    return f"{c['diff']:+.3f}{se} ({c['verdict']})"


def _data_note(rows: list[dict]) -> str:
    from cnnlab.core.runs.folders import load_summary

    if not rows or not rows[0].get("run_paths"):
        return ""
    s = load_summary(rows[0]["run_paths"][0])
    kind = "synthetic data (procedurally generated, not real paintings)" if s.get("synthetic_data") else "real images"
    return f"Data: {s['data_name']} — {kind}."


def compare(rows: list[dict], base: dict, metric: str = "val_acc") -> list[str]:
    """Per group: the best variant by mean `metric` and its paired difference from the `base` row
    (verdict by `cnnlab.core.stats.compare_records`); the variants that changed nothing; the most effective group."""
    findings = []
    groups = list(dict.fromkeys(r["group"] for r in rows if r is not base))
    best_overall = None
    for g in groups:
        members = [r for r in rows if r["group"] == g and r is not base]
        best = max(members, key=lambda r: r[f"{metric}_mean"])
        c = compare_records(best, base, metric)
        text = (
            f"{g}: best {best['variant']} at {format_record(best, metric)} validation accuracy, "
            f"{format_comparison(c)} vs {base['variant']} (paired)"
        )
        if best.get("selected_on_validation") and not base.get("selected_on_validation"):
            text += (
                f"; its epoch was chosen on validation accuracy, so that number is optimistic: test accuracy "
                f"{format_comparison(compare_records(best, base, 'test_acc'))}"
            )
        findings.append(text)
        if best_overall is None or c.diff > best_overall[1]:
            best_overall = (g, c.diff, best["variant"], c.verdict)
    inert = [r["variant"] for r in rows if r is not base and compare_records(r, base, metric).verdict == NO_EFFECT]
    if inert:
        findings.append(f"{NO_EFFECT} (every per-repeat number equals {base['variant']}'s): " + ", ".join(inert))
    if best_overall:
        g, d, v, verdict = best_overall
        findings.append(f"largest gain: {g} ({v}, {d:+.3f} validation accuracy vs {base['variant']}, {verdict})")
    return findings
