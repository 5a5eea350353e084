"""The public Python API: the README's example runs as written, and `import cnnlab` stays cheap."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import cnnlab

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Python API") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_readme_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(_readme_example(), "README.md", "exec"), namespace)
    run, record, suite = namespace["run"], namespace["record"], namespace["suite"]
    assert run.path.parent == Path("runs") and (tmp_path / run.path / "summary.json").is_file()
    assert len(record.history) == 3 and record.config["model"]["pool"] is True
    assert record.summary["val_acc"] == run.summary["val_acc"]
    assert not namespace["trained"].training and sum(p.numel() for p in namespace["model"].parameters()) > 0
    assert (tmp_path / "runs" / "suites" / "pooling" / "results.md").is_file() and suite.name == "pooling"
    assert namespace["faces"].train_x.shape[1:] == (1, 28, 28)
    diagnostics = namespace["diagnostics"]
    assert (tmp_path / diagnostics.path / "confusion_test.png").is_file() and diagnostics.splits["test"].n > 0
    # a second call reuses the finished run
    again = cnnlab.train(namespace["config"], out="runs")
    assert again.cached and again.path == run.path


def test_api_names_are_exported_and_documented():
    for name in cnnlab.__all__:
        obj = getattr(cnnlab, name)
        if callable(obj) and not isinstance(obj, type):
            assert obj.__doc__, name


def test_import_cnnlab_is_cheap():
    """No torch, matplotlib or optuna at `import cnnlab`: the CLI's non-training commands start fast."""
    code = (
        "import sys, cnnlab; print(sorted(m for m in ('torch', 'matplotlib', 'optuna', 'captum') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_load_run_of_a_missing_folder_is_a_data_error(tmp_path):
    import pytest

    with pytest.raises(cnnlab.DataError, match="not a finished cnnlab run folder"):
        cnnlab.load_run(tmp_path / "nothing")
