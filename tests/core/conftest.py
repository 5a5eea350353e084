"""Fixtures of the core tests that run a real suite (the cluster tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from art_helpers import write_art_folder


@pytest.fixture(scope="module")
def tiny_art(tmp_path_factory) -> Path:
    """3 'artists' x 9 small images, one colour cast per class (as tests/art/test_suites.py)."""
    return write_art_folder(tmp_path_factory.mktemp("tiny_art") / "art", ["anna a", "bert b", "carl c "], 9, (30, 40))
