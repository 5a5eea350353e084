"""Shared fixtures: tiny synthetic data, isolated caches, the ../shared folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pg_helpers import postgres_url  # noqa: F401 - the session fixture of a real PostgreSQL server (sweep tests)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # Never touch the user's ~/.cache/cnnlab or torch hub from tests.
    cache = tmp_path_factory.getbasetemp() / "cnnlab-cache"
    monkeypatch.setenv("CNNLAB_CACHE", str(cache))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.getbasetemp() / "torch-home"))
    torch.set_num_threads(1)
    yield


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is absent")
    return SHARED


@pytest.fixture
def toy_images():
    """A separable 3-class toy set of 3x16x16 images: class k brightens channel k."""
    gen = torch.Generator().manual_seed(0)
    n = 60
    y = torch.arange(n) % 3
    x = torch.randn(n, 3, 16, 16, generator=gen) * 0.05
    x[torch.arange(n), y] += 0.4
    return x.clamp(-0.5, 0.5), y
