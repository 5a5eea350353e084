"""Part 1 experiment suites (questions 1.2-1.7): every configuration over several seeds, cached by content.

    from cnnlab.art.suites import SuiteOptions, run_suite
    result = run_suite("pooling", SuiteOptions(quick=True))   # writes runs/suites/pooling/

common: variants, options, running and tables; definitions: the registered suites; runner: by name.
"""

from cnnlab.art.suites.common import SUITE_ORDER, SuiteOptions, SuiteResult, Variant, default_jobs
from cnnlab.art.suites.runner import run_all, run_suite, suite_names

__all__ = ["SUITE_ORDER", "SuiteOptions", "SuiteResult", "Variant", "default_jobs", "run_all", "run_suite", "suite_names"]
