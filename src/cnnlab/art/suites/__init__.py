"""Part 1 experiment suites (questions 1.2-1.7): every configuration over several paired repeats, cached by content.

    from cnnlab.art.suites import SuiteOptions, run_suite
    result = run_suite("pooling", SuiteOptions(quick=True))   # writes runs/suites/pooling/

Repeat r of a variant trains with seed r on validation fold r mod data.folds; every variant of a suite
runs on the same repeats as its reference, so differences are paired (`run_paired`, and
`run_on_repeats_of` for a new variant against a row of any suite).

common: variants, options, running, paired rows and tables; definitions: the suites of 1.2-1.5 and
their training regimes; best_model: 1.6 search and 1.7 robustness; runner: by name.
"""

from cnnlab.art.suites.common import (
    DEFAULT_REPEATS,
    SUITE_ORDER,
    SuiteOptions,
    SuiteResult,
    Variant,
    paired_columns,
    run_on_repeats_of,
    run_paired,
    run_variants,
)
from cnnlab.art.suites.runner import run_all, run_suite, suite_names

__all__ = [
    "DEFAULT_REPEATS",
    "SUITE_ORDER",
    "SuiteOptions",
    "SuiteResult",
    "Variant",
    "paired_columns",
    "run_all",
    "run_on_repeats_of",
    "run_paired",
    "run_suite",
    "run_variants",
    "suite_names",
]
