"""`cnnlab runs`: the run-folder table (kinds, filters, sorting, JSON), show, diff, broken folders, speed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnlab.cli.app import main
from cnnlab.core.errors import CnnlabError
from cnnlab.core.runs.catalog import (
    filter_runs,
    find_run,
    list_runs,
    parse_where,
    read_row,
    sort_runs,
    sweep_index_path,
)
from cnnlab.core.runs.table import diff_runs


def _run(
    root: Path,
    rid: str,
    kind: str = "cnn",
    seed: int = 0,
    lr: float = 1e-4,
    acc: float = 0.5,
    data: str = "synthetic-artists",
    epochs: int = 5,
) -> Path:
    """A run folder as core.runs writes it (config.json + summary.json), without training anything."""
    path = root / rid
    path.mkdir(parents=True)
    config = {
        "train": {"epochs": epochs, "optimizer": {"name": "adam", "lr": lr}},
        "model": {"filters": [16, 16], "pool": False},
    }
    if kind != "cnn":
        part2 = {"mlp": {"hidden": 300}} if kind == "mlp" else {"finetune": {"freeze": "features"}}
        config = {**part2, "train": {"epochs": epochs, "optimizer": {"name": "adam", "lr": lr}}}
    (path / "config.json").write_text(
        json.dumps({"kind": kind, "seed": seed, "version": "0", "data": {"name": data, "hash": "h"}, "config": config})
    )
    (path / "summary.json").write_text(
        json.dumps(
            {
                "run_id": rid,
                "kind": kind,
                "version": "0",
                "seed": seed,
                "data": {"name": data},
                "epochs_run": epochs,
                "train_acc": min(acc + 0.2, 1.0),  # an accuracy (core.runs.validity checks [0, 1])
                "val_acc": acc,
                "test_acc": max(acc - 0.1, 0.0),
                "val_loss": 1.0 - acc,
                "train_seconds": 12.5,
                "wall_seconds": 0.1,
            }
        )
    )
    return path


@pytest.fixture
def runs(tmp_path) -> Path:
    """Part 1 runs (plain, suite member, sweep trial, both), Part 2 runs, and broken folders."""
    root = tmp_path / "runs"
    _run(root, "cnn-000000000001", acc=0.40)
    _run(root, "cnn-000000000002", seed=1, lr=1e-3, acc=0.60)
    _run(root, "cnn-000000000003", seed=2, acc=0.55)
    _run(root, "cnn-000000000004", acc=0.70, data="/data/art_data/artists")
    _run(root, "mlp-000000000005", kind="mlp", acc=0.80)
    _run(root, "alexnet-finetune-000000000006", kind="alexnet-finetune", acc=0.90)
    (root / "suites" / "pooling").mkdir(parents=True)
    (root / "suites" / "pooling" / "suite.json").write_text(
        json.dumps(
            {"suite": "pooling", "rows": [{"variant": "a", "run_ids": ["cnn-000000000002", "cnn-000000000004"]}]}
        )
    )
    sweep_index_path(root, "study 1").parent.mkdir()
    sweep_index_path(root, "study 1").write_text(
        json.dumps(
            {
                "study": "study 1",
                "trials": [
                    {"number": 0, "run_id": "cnn-000000000003"},
                    {"number": 1, "run_id": "cnn-000000000004"},
                    {"number": 2, "run_id": None},
                ],
            }
        )
    )
    (root / ".tmp-cnn-00000000000a-999999").mkdir()  # a killed run's temporary folder
    (root / "cnn-00000000000b").mkdir()
    (root / "cnn-00000000000b" / "config.json").write_text("{}")  # no summary.json
    _run(root, "cnn-00000000000c")
    (root / "cnn-00000000000c" / "summary.json").write_text('{"run_id": ')  # cut off mid-write
    (root / "report-assets").mkdir()  # not a run
    (root / "optuna.db").write_text("")
    return root


def test_table_kinds_and_broken_folders(runs, capsys):
    rows = {r.run_id: r for r in list_runs(runs)}
    assert {k: r.kind for k, r in rows.items() if r.ok} == {
        "cnn-000000000001": "run",
        "cnn-000000000002": "suite",
        "cnn-000000000003": "trial",
        "cnn-000000000004": "suite",
        "mlp-000000000005": "mlp",
        "alexnet-finetune-000000000006": "alexnet-finetune",
    }
    assert rows["cnn-000000000004"].suites == ("pooling",) and rows["cnn-000000000004"].studies == ("study 1",)
    assert rows["cnn-00000000000a"].status == "half-written"
    assert rows["cnn-00000000000b"].status == "incomplete" and "summary.json" in rows["cnn-00000000000b"].problem
    assert rows["cnn-00000000000c"].status == "unreadable"
    assert "report-assets" not in rows and len(rows) == 9
    assert main(["runs", "--out", str(runs)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["id", "kind", "data", "seed", "epochs", "train", "val", "test", "seconds", "when"]
    line = next(x for x in lines if x.startswith("mlp-000000000005"))
    assert line.split()[1:9] == ["mlp", "synthetic-artists", "0", "5", "1.000", "0.800", "0.700", "12.5"]
    assert any(x.startswith("cnn-00000000000c") and "unreadable" in x for x in lines)
    assert "9 runs (3 unreadable or half-written)" in out


def test_filters_sort_and_json(runs, capsys):
    records = list_runs(runs)
    ids = lambda rs: [r.run_id for r in rs]  # noqa: E731
    assert ids(filter_runs(records, kind="trial")) == ["cnn-000000000003", "cnn-000000000004"]
    assert set(ids(filter_runs(records, kind="suite"))) == {"cnn-000000000002", "cnn-000000000004"}
    assert len(filter_runs(records, kind="cnn")) == 7  # every Part 1 folder, broken ones included
    assert ids(filter_runs(records, data="artists")) == ["cnn-000000000004"]  # a data folder by its name
    assert ids(filter_runs(records, where=["train.optimizer.lr=1e-3"])) == ["cnn-000000000002"]
    assert set(ids(filter_runs(records, where=["train.optimizer.lr=0.0001", "seed=0", "kind=cnn"]))) == {
        "cnn-000000000001",
        "cnn-000000000004",
    }
    assert ids(filter_runs(records, where=["model.filters=[16,16]", "val_acc>0.65"])) == ["cnn-000000000004"]
    assert ids(filter_runs(records, where=["mlp.hidden!=300"])) == [
        r.run_id for r in records if r.ok and r.run_kind != "mlp"
    ]
    assert ids(sort_runs([r for r in records if r.ok], "test_acc", reverse=True))[:2] == [
        "alexnet-finetune-000000000006",
        "mlp-000000000005",
    ]
    assert ids(sort_runs(records, "val_loss"))[0] == "alexnet-finetune-000000000006"
    assert parse_where("a.b>=2") == ("a.b", ">=", 2)
    with pytest.raises(CnnlabError, match="KEY=VALUE"):
        parse_where("nothing")
    with pytest.raises(CnnlabError, match="unknown kind"):
        filter_runs(records, kind="nope")
    assert main(["runs", "--out", str(runs), "--kind", "trial", "--sort", "val_acc", "--reverse", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in rows] == ["cnn-000000000004", "cnn-000000000003"]
    assert rows[0]["kind"] == "suite" and rows[0]["studies"] == ["study 1"] and rows[0]["val_acc"] == 0.7
    assert main(["runs", "--out", str(runs), "--where", "oops"]) == 2


def test_show_and_diff_by_id_prefix_and_path(runs, capsys):
    assert find_run(runs, "mlp-") == runs / "mlp-000000000005"
    assert find_run(runs, str(runs / "cnn-000000000002")) == runs / "cnn-000000000002"
    with pytest.raises(CnnlabError, match="ambiguous"):
        find_run(runs, "cnn-0000")
    with pytest.raises(CnnlabError, match="no run"):
        find_run(runs, "zzz")
    diff = diff_runs(read_row(runs / "cnn-000000000001"), read_row(runs / "cnn-000000000002"))
    assert ("train.optimizer.lr", 1e-4, 1e-3) in diff.config and ("run.seed", 0, 1) in diff.config
    assert len(diff.config) == 2
    val = next(m for m in diff.metrics if m[0] == "val_acc")
    assert val[1:] == pytest.approx((0.4, 0.6, 0.2))
    assert main(["runs", "show", "mlp-0", "--out", str(runs)]) == 0
    out = capsys.readouterr().out
    assert "run mlp-000000000005 (mlp)" in out and "hidden: 300" in out and "test_acc: 0.7" in out
    assert main(["runs", "--out", str(runs), "diff", "cnn-000000000001", "cnn-000000000002"]) == 0
    out = capsys.readouterr().out
    assert "config (2 keys differ)" in out and "train.optimizer.lr" in out and "+0.2" in out
    assert main(["runs", "--out", str(runs), "diff", "cnn-000000000001", "cnn-00000000000c"]) == 2
    assert "unreadable" in capsys.readouterr().err
    assert main(["runs", "--out", str(runs), "show", "cnn-0000"]) == 2


def test_thousands_of_folders_in_about_a_second_without_torch(tmp_path):
    root = tmp_path / "runs"
    for i in range(2000):
        _run(root, f"cnn-{i:012x}", seed=i % 5, lr=[1e-4, 1e-3][i % 2], acc=(i % 100) / 100)
    t0 = time.perf_counter()
    records = list_runs(root)
    seconds = time.perf_counter() - t0
    assert len(records) == 2000 and all(r.ok for r in records)
    print(f"list_runs: 2000 folders in {seconds:.2f} s")
    assert seconds < 5  # about 0.2 s on an idle core; generous for a loaded CI machine
    code = (
        "import sys, time; from cnnlab.cli.app import main; t = time.perf_counter(); "
        f"rc = main(['runs', '--out', {str(root)!r}, '--where', 'train.optimizer.lr=1e-3', '--json']); "
        "print('SECONDS', time.perf_counter() - t, 'TORCH', 'torch' in sys.modules, file=sys.stderr); sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)) == 1000
    assert "TORCH False" in proc.stderr  # the table never imports torch
