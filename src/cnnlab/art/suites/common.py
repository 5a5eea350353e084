"""Part 1 experiment suites (questions 1.2-1.7): every configuration over several seeds.

A suite is a list of variants (a label, a group and `--set`-style overrides of a base RunConfig).
Each variant runs once per seed through `experiments.train_run`, so every run is cached by content
and a killed suite resumes where it stopped. A suite writes, into <out>/suites/<name>/:
results.csv and results.md (mean ± std and n per variant), suite.json (the run ids behind every
number, and the findings) and its plots.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from cnnlab.art.config import RunConfig
from cnnlab.core.callbacks import Callback
from cnnlab.core.config import resolve_config, to_dict
from cnnlab.core.errors import ConfigError
from cnnlab.core.registry import Registry
from cnnlab.core.stats import NOISE_SE, aggregate, compare_records, format_record

log = logging.getLogger(__name__)

METRICS = ("train_acc", "val_acc", "test_acc", "epochs_run", "train_seconds")


def default_jobs() -> int:
    """One single-threaded training process per core (up to 4): for networks this small that beats
    one process using every core (pooling suite on 2 cores: 26.0 s vs 33.5 s, README)."""
    return max(1, min(os.cpu_count() or 1, 4))


@dataclass(frozen=True)
class Variant:
    label: str
    group: str
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class SuiteOptions:
    """How to run a suite: which seeds, an epochs override, quick mode, parallel jobs.

    `seeds` is a count (3: seeds 0, 1, 2) or the seeds themselves; it is stored as a tuple.
    `callbacks` are added to every run's training (they must pickle: runs train in worker processes).
    """

    out_root: Path = Path("runs")
    base: RunConfig = field(default_factory=RunConfig)
    seeds: tuple[int, ...] | int = (0, 1, 2)
    epochs: int | None = None
    quick: bool = False
    jobs: int = field(default_factory=default_jobs)
    device: str = "cpu"
    search_trials: int = 30
    threads: int | None = None  # torch threads per training process; None: the rule of cnnlab.core.threads
    callbacks: tuple[Callback, ...] = ()

    def __post_init__(self) -> None:
        seeds = tuple(range(self.seeds)) if isinstance(self.seeds, int) else tuple(self.seeds)
        if not seeds or any(not isinstance(s, int) or s < 0 for s in seeds):
            raise ConfigError("--seeds must name at least one seed >= 0")
        object.__setattr__(self, "seeds", seeds)
        object.__setattr__(self, "out_root", Path(self.out_root))
        object.__setattr__(self, "callbacks", tuple(self.callbacks))
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError("--epochs must be a positive integer")
        if self.jobs < 1:
            raise ConfigError("--jobs must be >= 1")

    @property
    def run_seeds(self) -> tuple[int, ...]:
        """The seeds each variant runs with: the first seed alone in quick mode."""
        return self.seeds[:1] if self.quick else self.seeds

    @property
    def n_seeds(self) -> int:
        return len(self.run_seeds)

    @property
    def n_epochs(self) -> int | None:
        return 2 if self.quick and self.epochs is None else self.epochs

    @property
    def suite_root(self) -> Path:
        return Path(self.out_root) / "suites"


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
def variant_config(base: RunConfig, variant: Variant, seed: int, epochs: int | None) -> RunConfig:
    """The base config with the variant's overrides, the seed and the epoch budget applied."""
    overrides = list(variant.overrides) + [f"train.seed={seed}"]
    if epochs is not None:
        overrides.append(f"train.epochs={epochs}")
    return resolve_config(RunConfig, None, overrides, extra=to_dict(base))


_WORKER_DATA: dict = {}


def _init_worker(threads: int) -> None:
    import torch

    from cnnlab.core.processes import exit_with_parent

    exit_with_parent()  # a killed `cnnlab experiment` must not leave its workers running
    torch.set_num_threads(threads)


def _run_one(config: RunConfig, out_root: str, device: str, callbacks: Sequence[Callback] = ()) -> dict:
    """Train (or reuse) one run; returns its summary plus the run folder. Runs in a worker."""
    from cnnlab.art.run import prepare_data, train_run

    key = config.data  # frozen: every field (grayscale too) is part of the key
    if key not in _WORKER_DATA:
        _WORKER_DATA[key] = prepare_data(config)
    # No per-run learning-curve PNG: suites plot their own aggregated figures (saves ~0.4 s a run).
    result = train_run(config, out_root, data=_WORKER_DATA[key], device=device, write_plot=False, callbacks=callbacks)
    return {**result.summary, "path": str(result.path), "cached": result.cached}


def run_configs(configs: Sequence[RunConfig], options: SuiteOptions) -> list[dict]:
    """Run many configs (cached ones are reused), in `options.jobs` processes; summaries in order."""
    if options.jobs == 1 or len(configs) <= 1:
        out = [_run_one(c, str(options.out_root), options.device, options.callbacks) for c in configs]
    else:
        import multiprocessing

        from cnnlab.core.threads import resolve_threads

        threads = resolve_threads(options.threads)
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(options.jobs, mp_context=ctx, initializer=_init_worker, initargs=(threads,)) as pool:
            n = len(configs)
            out = list(pool.map(_run_one, configs, [str(options.out_root)] * n, [options.device] * n, [options.callbacks] * n))
    n_cached = sum(s["cached"] for s in out)
    if n_cached:
        log.info("%d of %d runs were cached and reused", n_cached, len(out))
    return out


def run_variants(variants: Sequence[Variant], options: SuiteOptions, base: RunConfig | None = None) -> list[dict]:
    """Every variant over every seed; one aggregated row per variant (mean, std, n, run ids)."""
    base = base or options.base
    seeds = list(options.run_seeds)
    configs = [variant_config(base, v, seed, options.n_epochs) for v in variants for seed in seeds]
    summaries = run_configs(configs, options)
    rows = []
    for i, v in enumerate(variants):
        runs = summaries[i * len(seeds) : (i + 1) * len(seeds)]
        missing = [m for m in METRICS if any(m not in r for r in runs)]
        if missing:
            raise ValueError(f"run summaries of {v.label!r} lack {', '.join(missing)}")
        row = {"group": v.group, "variant": v.label, **aggregate(runs, METRICS)}
        row["params"] = runs[0]["params"]
        row["macs"] = runs[0]["macs"]
        row["overrides"] = " ".join(v.overrides)
        row["run_ids"] = [r["run_id"] for r in runs]
        row["run_paths"] = [r["path"] for r in runs]
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- writing results
def write_suite(name: str, options: SuiteOptions, rows: list[dict], findings: list[str], extra: dict | None = None, columns: Sequence[str] = ("train_acc", "val_acc")) -> SuiteResult:
    """results.csv, results.md and suite.json in <out>/suites/<name>/ (atomic writes)."""
    import csv
    import io

    from cnnlab.core.version import __version__
    from cnnlab.core.io import atomic_write_json, atomic_write_text

    path = options.suite_root / name
    path.mkdir(parents=True, exist_ok=True)
    skip = ("run_paths", "per_repeat", "vs_reference")
    flat = [{k: (" ".join(map(str, v)) if isinstance(v, list) else v) for k, v in r.items() if k not in skip} for r in rows]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(dict.fromkeys(k for r in flat for k in r)))
    writer.writeheader()
    writer.writerows(flat)
    atomic_write_text(path / "results.csv", buf.getvalue())
    header = ["group", "variant"] + [c.replace("_", " ") for c in columns] + ["params", "epochs"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = [r["group"], r["variant"]] + [format_record(r, c) for c in columns]
        cells += [f"{r['params']:,}", f"{r['epochs_run_mean']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    data = _data_note(rows)
    md = f"# {name}\n\n{data}\n\n" + "\n".join(lines) + "\n"
    if findings:
        md += "\n## Findings\n\n" + "\n".join(f"- {f}" for f in findings) + "\n"
    atomic_write_text(path / "results.md", md)
    meta = {
        "suite": name,
        "version": __version__,
        "seeds": options.n_seeds,
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


def _data_note(rows: list[dict]) -> str:
    from cnnlab.core.runs import load_summary

    if not rows or not rows[0].get("run_paths"):
        return ""
    s = load_summary(rows[0]["run_paths"][0])
    kind = "synthetic data (procedurally generated, not real paintings)" if s.get("synthetic_data") else "real images"
    return f"Data: {s['data_name']} — {kind}."


def compare(rows: list[dict], base: dict, metric: str = "val_acc") -> list[str]:
    """Per group: the best variant by mean `metric`, and its difference from the `base` row
    (verdict by `cnnlab.core.stats.compare`)."""
    findings = []
    groups = list(dict.fromkeys(r["group"] for r in rows if r is not base))
    best_overall = None
    for g in groups:
        members = [r for r in rows if r["group"] == g]
        best = max(members, key=lambda r: r[f"{metric}_mean"])
        c = compare_records(best, base, metric)
        findings.append(
            f"{g}: best {best['variant']} at {format_record(best, metric)} validation accuracy, "
            f"{c.diff:+.3f} vs {base['variant']} ({c.verdict}; {NOISE_SE:g} standard errors = {c.margin:.3f})"
        )
        if best_overall is None or c.diff > best_overall[1]:
            best_overall = (g, c.diff, best["variant"])
    if best_overall:
        findings.append(f"most effective: {best_overall[0]} ({best_overall[2]}, {best_overall[1]:+.3f} validation accuracy vs {base['variant']})")
    return findings
