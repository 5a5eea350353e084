"""Run the registered Part 1 suites by name: `run_suite("pooling", options)`, `run_all(options)`."""

from __future__ import annotations

from collections.abc import Callable

from cnnlab.art.suites import best_model, controls, definitions  # noqa: F401  (importing them registers the suites)
from cnnlab.art.suites.common import SUITE_ORDER, SUITES, SuiteOptions, SuiteResult
from cnnlab.core import progress
from cnnlab.core.cluster import use_cluster
from cnnlab.core.pool import shared_workers
from cnnlab.core.runs.folders import clean_stale_tmp


def run_suite(name: str, options: SuiteOptions) -> SuiteResult:
    """Run one registered suite (or reuse its cached runs) and write its results."""
    clean_stale_tmp(options.out_root)
    # --cluster: the runs train on a Dask cluster; else one set of worker processes for all of the suite's runs
    with progress.stage(name), use_cluster(options.runtime.cluster), shared_workers():
        result = SUITES.create(name, options)
    clean_stale_tmp(options.out_root)  # again: workers of a killed run may have been reaped only now
    return result


def run_all(options: SuiteOptions, on_suite: Callable[[SuiteResult], None] | None = None) -> list[SuiteResult]:
    """Every suite in the handout's order (1.2-1.7); `on_suite(result)` after each. A study named by
    --storage/--study is checked first, so a bad URL fails before anything trains."""
    best_model.check_search_study(options)
    results = []
    with use_cluster(options.runtime.cluster), shared_workers():  # the workers (and their data) serve every suite
        for name in SUITE_ORDER:
            result = run_suite(name, options)
            results.append(result)
            if on_suite:
                on_suite(result)
    return results


def suite_names() -> list[str]:
    """Registered suite names, the handout's order first."""
    return [n for n in SUITE_ORDER if n in SUITES] + [n for n in SUITES.names() if n not in SUITE_ORDER]
