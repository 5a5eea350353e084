"""docs/tutorial.ipynb runs top to bottom in a real Jupyter kernel, and is stored without outputs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "tutorial.ipynb"


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert any("import cnnlab" in c.source for c in code)


@pytest.mark.slow
def test_notebook_executes_in_a_kernel(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    started = time.perf_counter()
    # The kernel runs in tmp_path (its runs/ folder lands there) and inherits this process's
    # environment: PYTHONPATH and the isolated CNNLAB_CACHE of conftest.
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    seconds = time.perf_counter() - started
    print(f"notebook executed in {seconds:.0f} s")
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # sample images, learning curves, confusion matrix
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "synthetic-artists" in text and "test accuracy" in text and "runs (" not in text
    runs = tmp_path / "runs"
    suite = json.loads((runs / "suites" / "pooling" / "suite.json").read_text())
    assert suite["quick"] and len(suite["rows"]) == 5
    trained = [p for p in runs.iterdir() if (p / "summary.json").is_file()]
    assert len(trained) >= 6  # the 10-epoch starter run and the suite's 5 runs
    assert any(json.loads((p / "summary.json").read_text())["epochs_run"] == 10 for p in trained)
