"""The report folder: `cnnlab report` never deletes what the report did not write (1), validate what the
context reads (14), `--report-dir .` (14), and readable output files (13)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from report_fixture import make_fixture_runs
from test_report import HAS_TEX

from cnnlab.core.errors import CnnlabError, ConfigError
from cnnlab.core.runtime import RuntimeOptions
from cnnlab.report import ReportOptions
from cnnlab.report.context import load_context
from cnnlab.report.render import MARKER, write_report


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    return load_context(make_fixture_runs(tmp_path_factory.mktemp("fixture") / "runs", seeds=1))


# ----------------------------------------------------------------------------- 1: never delete a runs folder
@pytest.mark.slow
def test_a_runs_folder_inside_the_report_dir_survives_a_rebuild(tmp_path, ctx):
    report = tmp_path / "R"
    write_report(ctx, report, compile=False)  # an earlier report
    runs = make_fixture_runs(report / "runs", seeds=1)
    n_before = sum(1 for _ in runs.rglob("*"))
    write_report(load_context(runs), report, compile=False)
    assert runs.is_dir() and sum(1 for _ in runs.rglob("*")) == n_before
    assert (report / "report.tex").is_file()


def test_report_refuses_out_inside_report_dir_before_any_work(tmp_path, ctx):
    report = tmp_path / "R"
    write_report(ctx, report, compile=False)
    runs = make_fixture_runs(report / "runs", seeds=1)
    with pytest.raises(ConfigError, match="inside --report-dir"):
        ReportOptions(runtime=RuntimeOptions(out=runs), report_dir=report)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cnnlab",
            "report",
            "--no-train",
            "--no-compile",
            "--out",
            str(runs),
            "--report-dir",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "inside --report-dir" in proc.stderr
    assert (runs / "report-assets" / "manifest.json").is_file()


@pytest.mark.slow
def test_rebuild_replaces_only_the_reports_own_files(tmp_path, ctx):
    report = tmp_path / "R"
    write_report(ctx, report, compile=False)
    (report / "notes.txt").write_text("mine")
    (report / "report.pdf").write_text("a stale PDF of the previous build")  # the previous build's, say
    marker = (report / MARKER).read_text()
    (report / MARKER).write_text(marker + "report.pdf\n")
    write_report(ctx, report, compile=False)
    assert (report / "notes.txt").read_text() == "mine"  # not the report's: kept
    assert not (report / "report.pdf").exists()  # the previous build's, not this one's: removed
    assert not [p for p in report.iterdir() if p.name.startswith(MARKER + ".")], "no temporary folders left"


def test_a_foreign_file_where_the_report_writes_is_refused(tmp_path, ctx):
    report = tmp_path / "R"
    write_report(ctx, report, compile=False)
    (report / MARKER).write_text((report / MARKER).read_text().replace("report.tex\n", ""))
    (report / "report.tex").write_text("my own thesis")
    with pytest.raises(CnnlabError, match="did not write"):
        write_report(ctx, report, compile=False)
    assert (report / "report.tex").read_text() == "my own thesis"


def test_a_report_folder_of_an_older_cnnlab_keeps_everything_else(tmp_path, ctx):
    report = tmp_path / "R"
    (report / "figures").mkdir(parents=True)
    (report / "report.tex").write_text("old")
    (report / "cnnlab.sty").write_text("old")
    (report / "runs" / "cnn-0123").mkdir(parents=True)
    (report / MARKER).write_text("written by cnnlab report; this folder is replaced on the next build\n")
    write_report(ctx, report, compile=False)
    assert (report / "runs" / "cnn-0123").is_dir() and (report / "report.tex").read_text() != "old"


# ----------------------------------------------------------------------------- 14: --report-dir .
def test_report_dir_dot_in_an_empty_folder(tmp_path, ctx, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    result = write_report(ctx, Path("."), compile=False)
    assert (empty / "report.tex").is_file() and (empty / MARKER).is_file() and Path.cwd() == empty
    assert result.tex.resolve() == (empty / "report.tex")


# ----------------------------------------------------------------------------- 14: validate what the context reads
def _manifest(root: Path) -> Path:
    return root / "report-assets" / "manifest.json"


CONTEXT_DAMAGE = {
    "manifest null": (lambda r: _manifest(r).write_text("null"), "manifest.json"),
    "manifest empty": (lambda r: _manifest(r).write_text("{}"), "manifest.json"),
    "manifest part2 a list": (
        lambda r: _manifest(r).write_text(json.dumps({**json.loads(_manifest(r).read_text()), "part2": []})),
        "manifest.json",
    ),
    "suite a list": (lambda r: (r / "suites" / "pooling" / "suite.json").write_text("[]"), "suite.json"),
    "part 1 summary garbage": (
        lambda r: _first_run(r, "pooling").joinpath("summary.json").write_text("{garbage"),
        "summary.json",
    ),
    "part 1 summary empty": (
        lambda r: _first_run(r, "search").joinpath("summary.json").write_text("{}"),
        "summary.json",
    ),
    "part 1 run missing": (lambda r: __import__("shutil").rmtree(_first_run(r, "architecture")), "not found"),
    "part 2 summary null": (lambda r: _part2_run(r).joinpath("summary.json").write_text("null"), "summary.json"),
    "part 2 summary lacks test_acc": (lambda r: _drop(_part2_run(r) / "summary.json", "test_acc"), "test_acc"),
    "metrics garbage": (lambda r: _part2_run(r).joinpath("metrics.jsonl").write_text("nope\n"), "metrics.jsonl"),
}


def _first_run(root: Path, suite: str) -> Path:
    return root / json.loads((root / "suites" / suite / "suite.json").read_text())["rows"][0]["run_ids"][0]


def _part2_run(root: Path) -> Path:
    return root / json.loads(_manifest(root).read_text())["part2"]["features"][0]


def _drop(path: Path, key: str) -> None:
    obj = json.loads(path.read_text())
    del obj[key]
    path.write_text(json.dumps(obj))


@pytest.mark.parametrize("case", list(CONTEXT_DAMAGE))
def test_damaged_runs_folders_are_one_line_errors_naming_the_file(tmp_path, case):
    root = make_fixture_runs(tmp_path / "runs", seeds=1)
    load_context(root)
    damage, named = CONTEXT_DAMAGE[case]
    damage(root)
    with pytest.raises(CnnlabError) as err:
        load_context(root)
    assert named in str(err.value) and "\n" not in str(err.value), str(err.value)


# ----------------------------------------------------------------------------- 13: readable report files
@pytest.mark.slow
def test_report_files_are_readable_by_others_under_umask_022(tmp_path, ctx):
    old = os.umask(0o022)
    try:
        result = write_report(ctx, tmp_path / "R", compile=HAS_TEX)
    finally:
        os.umask(old)
    files = [p for p in (tmp_path / "R").rglob("*") if p.is_file()]
    assert result.tex in files and any(p.suffix == ".png" for p in files)
    if HAS_TEX:
        assert result.pdf in files
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) & 0o044 == 0o044, p
    assert stat.S_IMODE((tmp_path / "R").stat().st_mode) == 0o755
