"""Sweeps against hostile storages and signals (issue 30): foreign or damaged Optuna storages are one line,
exit 2; a lost trial is re-queued exactly once whichever worker notices; a stop by signal is never lost
and reaches every worker."""

from __future__ import annotations

import os
import sqlite3
import threading

import pytest

from cnnlab.cli.app import main

optuna = pytest.importorskip("optuna")
TrialState = optuna.trial.TrialState


# ----------------------------------------------------------------------------- item 12: foreign storages
def _unrelated_sqlite(path):
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE studies (name TEXT, owner TEXT)")  # another program's database


def _other_schema_sqlite(path):
    optuna.storages.RDBStorage(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:  # as if written by an Optuna of another schema version
        db.execute("UPDATE alembic_version SET version_num = 'v9.9.9.z'")


def _garbage_journal(path):
    path.write_text('this is not JSON\n{"op_code": 0, "worker_id": "x"}\n')


def _fifo_journal(path):
    os.mkfifo(path)


def _main_within(argv: list[str], seconds: float = 60) -> int:
    """`main(argv)` in a daemon thread: a hang (a FIFO opened for reading) fails the test, not the suite."""
    status: list[int] = []
    thread = threading.Thread(target=lambda: status.append(main(argv)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert status, f"cnnlab {' '.join(argv)} did not end within {seconds} s"
    return status[0]


@pytest.mark.parametrize(
    "name, make, expected",
    [
        ("x.db", _unrelated_sqlite, "is not an Optuna storage or is damaged: no such column"),
        ("x.db", _other_schema_sqlite, "holds Optuna tables of a schema version"),
        ("x.log", _garbage_journal, "is damaged or not an Optuna journal: JSONDecodeError"),
        ("x.log", _fifo_journal, "is not a regular file"),
    ],
    ids=["unrelated-studies-table", "other-schema-version", "garbage-journal", "fifo-journal"],
)
def test_a_foreign_or_damaged_storage_is_one_line_exit_2(tmp_path, capsys, name, make, expected):
    path = tmp_path / name
    make(path)
    url = f"sqlite:///{path}" if name.endswith(".db") else str(path)
    for argv in (
        ["sweep", "--show", "--storage", url, "--out", str(tmp_path / "runs")],
        ["sweep", "--trials", "2", "--storage", url, "--out", str(tmp_path / "runs")],
    ):
        assert _main_within(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("cnnlab: error: ") and err.count("\n") == 1, err
        assert expected in err and str(path) in err, err


def test_show_never_creates_a_storage(tmp_path, capsys):
    for url, path in ((str(tmp_path / "none.log"), tmp_path / "none.log"), (f"sqlite:///{tmp_path}/n.db", tmp_path / "n.db")):
        assert main(["sweep", "--show", "--storage", url, "--out", str(tmp_path)]) == 2
        assert "does not exist" in capsys.readouterr().err
        assert not path.exists()


def test_show_of_a_study_without_a_target_says_so(tmp_path, capsys):
    """A study that `cnnlab sweep` did not set up (or whose creator died first) has no target: no "of None"."""
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    journal = tmp_path / "study.log"
    optuna.create_study(study_name="cnnlab", storage=JournalStorage(JournalFileBackend(str(journal))))
    assert main(["sweep", "--show", "--storage", str(journal), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "None" not in out and "0 trials finished" in out and "no target" in out, out
