"""Run the registered Part 1 suites by name: `run_suite("pooling", options)`, `run_all(options)`."""

from __future__ import annotations

from collections.abc import Callable

from cnnlab.art.suites import best_model, controls, definitions  # noqa: F401  (importing them registers the suites)
from cnnlab.art.suites.common import SUITE_ORDER, SUITES, SuiteOptions, SuiteResult
from cnnlab.core.ahead import Ahead
from cnnlab.core.ahead import stage as early_stage
from cnnlab.core.cluster import use_cluster
from cnnlab.core.pool import shared_workers
from cnnlab.core.runs.folders import clean_stale_tmp

# On a cluster (cnnlab.core.ahead), when the suite named first begins, the suites after it that need nothing
# from it start ahead in a second client: 1.4 and 1.5 beside 1.2 and 1.3 (the 1.6 search needs all three, as
# its starting points), and 1.7's robustness beside its controls (both need the search's best model).
RUN_AHEAD = {"baseline": ("regularization", "architecture"), "controls": ("robustness",)}


def run_suite(name: str, options: SuiteOptions, ahead: Ahead | None = None) -> SuiteResult:
    """Run one registered suite (or reuse its cached runs) and write its results; with `ahead`, first wait
    for the suite if it was started ahead there, showing its progress (cnnlab.core.ahead.stage)."""
    clean_stale_tmp(options.out_root)
    # --cluster: the runs train on a Dask cluster; else one set of worker processes for all of the suite's runs
    with early_stage(name, ahead), use_cluster(options.runtime.cluster), shared_workers():
        result = SUITES.create(name, options)
    clean_stale_tmp(options.out_root)  # again: workers of a killed run may have been reaped only now
    return result


def run_all(options: SuiteOptions, on_suite: Callable[[SuiteResult], None] | None = None) -> list[SuiteResult]:
    """Every suite in the handout's order (1.2-1.7); `on_suite(result)` after each. A study named by
    --storage/--study is checked first, so a bad URL fails before anything trains."""
    best_model.check_search_study(options)
    results = []
    # the workers (and their data) serve every suite; on a cluster, some suites start ahead (RUN_AHEAD)
    with use_cluster(options.runtime.cluster), shared_workers(), Ahead() as ahead:
        for name in SUITE_ORDER:
            early = RUN_AHEAD.get(name)
            if early and ahead.enabled:
                ahead.start(early, run_suites, options.with_cluster(ahead.address), early)
            result = run_suite(name, options, ahead)
            results.append(result)
            if on_suite:
                on_suite(result)
    return results


def run_suites(options: SuiteOptions, names: tuple[str, ...]) -> None:
    """Run the suites `names` in order (the work a cluster starts ahead: cnnlab.core.ahead)."""
    for name in names:
        run_suite(name, options)


def suite_names() -> list[str]:
    """Registered suite names, the handout's order first."""
    return [n for n in SUITE_ORDER if n in SUITES] + [n for n in SUITES.names() if n not in SUITE_ORDER]
