"""What the suites read back from a runs folder (another suite's suite.json) is untrusted: a damaged file is
one line naming it, or, for the search's optional seeds, one warning and no seed from it."""

from __future__ import annotations

import logging
import os

import pytest

from cnnlab.art.config import RunConfig
from cnnlab.art.suites import SuiteOptions
from cnnlab.art.suites.best_model import best_config
from cnnlab.art.suites.seeds import seed_configs
from cnnlab.core.errors import CnnlabError
from cnnlab.core.runtime import RuntimeOptions


@pytest.fixture
def options(tmp_path) -> SuiteOptions:
    return SuiteOptions(runtime=RuntimeOptions(out=tmp_path / "runs"), base=RunConfig(), quick=True)


def _write(options: SuiteOptions, name: str, text: str | None) -> None:
    path = options.suite_root / name / "suite.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    if text is None:
        os.mkfifo(path)  # a FIFO: reading it must never block
    else:
        path.write_text(text)


@pytest.mark.parametrize("text", ['{"best_config": ', "[1, 2]", '{"rows": []}', None])
def test_a_damaged_search_result_is_one_line_naming_it(options, text):
    _write(options, "search", text)
    with pytest.raises(CnnlabError) as err:  # UntrustedData is a DataError, a CnnlabError
        best_config(options)
    assert "suite.json" in str(err.value) and "\n" not in str(err.value)


def test_no_search_result_means_the_base_config(options):
    assert best_config(options) == (options.base, "base configuration (the search suite has not run)")


@pytest.mark.parametrize("text", ['{"rows": [', None])
def test_a_damaged_suite_gives_no_search_seed_and_one_warning(options, text, caplog):
    _write(options, "pooling", text)
    with caplog.at_level(logging.WARNING):
        seeds = seed_configs(options, options.base)
    assert [label for label, _ in seeds] == ["starter network"]
    assert len([r for r in caplog.records if "no search seed" in r.getMessage()]) == 1
