"""Hostile input, round three (issue 30): what is read back from a runs folder or given as a file is
untrusted. Cached runs without their checkpoint or with a summary that is not cnnlab's (5, 15), FIFOs
and /dev/zero links (8), JSON nested 100,000 deep (9), bounded --jobs (3), --widths (13),
--max-bytes (14), `runs show` of a folder that is no run (16), --seeds LIST vs --repeats N, and --sort
without runs. Whatever could hang runs in a subprocess under a timeout that fails the test.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import one_line_error
from cnnlab.cli.app import main

SRC = str(Path(__file__).resolve().parents[2] / "src")
ENV = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
TINY_MLP = [
    "part2",
    "mlp",
    "--actors",
    "s1,s2,s3",
    "--train-per-actor",
    "4",
    "--min-eval-per-actor",
    "2",
    "--image-size",
    "10",
    "--hidden",
    "4",
    "--epochs",
    "1",
]
DEEP = "[" * 100_000  # json.loads recurses: a RecursionError unless read through core.readback


def _cli(args: list[str]) -> int:
    """main(args), with argparse's usage errors (SystemExit) as their exit status."""
    try:
        return main(args)
    except SystemExit as exc:
        return int(exc.code or 0)


def _cnnlab(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    """`cnnlab ARGS` in a subprocess: a hang fails this test (TimeoutExpired), not the suite."""
    return subprocess.run(
        [sys.executable, "-m", "cnnlab", *args], capture_output=True, text=True, timeout=timeout, env=ENV
    )


def _python(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=ENV)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A runs folder holding one finished tiny MLP run (kept pristine: tests copy it)."""
    out = tmp_path_factory.mktemp("trained") / "runs"
    assert main([*TINY_MLP, "--out", str(out)]) == 0
    return out


@pytest.fixture
def runs(trained, tmp_path) -> tuple[Path, Path]:
    """(runs folder, its one run folder): a copy of `trained` for this test to damage."""
    out = tmp_path / "runs"
    shutil.copytree(trained, out, symlinks=True)
    (run,) = [p for p in out.iterdir() if p.name.startswith("mlp-")]
    return out, run


def _retrained_once(runs: tuple[Path, Path], caplog, capsys) -> None:
    """Training the same run again warns once that the cached run is damaged, retrains it, and leaves a
    valid run folder (the checkpoint loads)."""
    from cnnlab.core.runs.folders import run_problem
    from cnnlab.faces.models.checkpoints import load_checkpoint

    out, run = runs
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert _cli([*TINY_MLP, "--out", str(out), "--json"]) == 0
    damaged = [r for r in caplog.records if "damaged cached run" in r.getMessage()]
    assert len(damaged) == 1 and run.name in damaged[0].getMessage(), caplog.text
    assert not any("reusing it" in r.getMessage() for r in caplog.records)
    summary = json.loads(capsys.readouterr().out)
    assert summary["run_id"] == run.name and 0 <= summary["val_acc"] <= 1
    assert run_problem(run) is None and load_checkpoint(run / "model.pt").class_names == ["s1", "s2", "s3"]


# ----------------------------------------------------------------------------- 5: the checkpoint a run needs
@pytest.mark.parametrize("damage", ["missing", "truncated", "empty", "a directory"])
def test_a_cached_run_without_a_readable_model_pt_is_retrained(runs, caplog, capsys, damage):
    from cnnlab.core.runs.folders import run_problem

    _, run = runs
    model = run / "model.pt"
    data = model.read_bytes()
    model.unlink()
    if damage == "truncated":
        model.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        model.write_bytes(b"")
    elif damage == "a directory":
        model.mkdir()
    assert "model.pt" in run_problem(run)
    _retrained_once(runs, caplog, capsys)


def test_a_kind_without_checkpoints_needs_none(tmp_path):
    """The colour-only control writes no checkpoint: its kind asks for no files."""
    import cnnlab.art  # noqa: F401 - registers the Part 1 kinds
    from cnnlab.core.runs.validity import files_problem

    assert files_problem(tmp_path, "colour-only") is None and files_problem(tmp_path, "no-such-kind") is None
    assert files_problem(tmp_path, "cnn") == "best.pt is missing"


# ----------------------------------------------------------------------------- 15: a summary that is not cnnlab's
@pytest.mark.parametrize(
    "key, value", [("val_acc", "high"), ("test_acc", None), ("train_acc", 1.5), ("epochs_run", "many")]
)
def test_a_cached_summary_with_metrics_that_are_not_numbers_is_retrained(runs, caplog, capsys, key, value):
    from cnnlab.core.runs.catalog import read_row
    from cnnlab.core.runs.folders import run_problem

    _, run = runs
    summary = json.loads((run / "summary.json").read_text())
    summary[key] = value
    (run / "summary.json").write_text(json.dumps(summary))
    assert key in run_problem(run) and key in read_row(run).problem  # the run cache and `cnnlab runs` agree
    _retrained_once(runs, caplog, capsys)


def test_losses_may_be_null_where_cnnlab_writes_null(runs):
    """json_text writes a non-finite loss as null on purpose: such a run is still valid."""
    from cnnlab.core.runs.folders import run_problem

    _, run = runs
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "train_loss": None}))
    assert run_problem(run) is None


# ----------------------------------------------------------------------------- 8: FIFOs and /dev/zero
@pytest.mark.parametrize("command", [["train"], ["part2", "mlp"], ["sweep", "--trials", "1"]])
def test_a_fifo_given_as_config_is_one_line_not_a_hang(tmp_path, command):
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    proc = _cnnlab([*command, "--config", str(fifo), "--out", str(tmp_path / "runs")])
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "not a regular file" in lines[0] and str(fifo) in lines[0]


def test_dev_zero_given_as_config_stops_at_the_cap(tmp_path):
    link = tmp_path / "config.yaml"
    os.symlink("/dev/zero", link)
    proc = _cnnlab(["train", "--config", str(link), "--out", str(tmp_path / "runs")])
    assert proc.returncode == 2 and "not a regular file" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("name", ["summary.json", "config.json", "metrics.jsonl"])
@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_special_files_in_a_cached_run_never_hang_runs_nor_the_run_cache(runs, name, special):
    out, run = runs
    (run / name).unlink()
    if special == "fifo":
        os.mkfifo(run / name)
    else:
        os.symlink("/dev/zero", run / name)
    proc = _python(
        f"import cnnlab.faces; from cnnlab.core.runs.folders import run_problem; print(run_problem({str(run)!r}))"
    )
    assert proc.returncode == 0 and name in proc.stdout and "not a regular file" in proc.stdout, proc.stderr
    proc = _cnnlab(["runs", "--out", str(out)])
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    if name != "metrics.jsonl":  # the table reads the two documents
        assert "unreadable" in proc.stdout and "1 runs (1 unreadable" in proc.stdout


def test_a_fifo_metrics_file_in_a_cached_run_is_retrained_not_a_hang(runs):
    out, run = runs
    (run / "metrics.jsonl").unlink()
    os.mkfifo(run / "metrics.jsonl")
    proc = _cnnlab([*TINY_MLP, "--out", str(out), "--json"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("damaged cached run") == 1 and "metrics.jsonl" in proc.stderr
    assert (run / "metrics.jsonl").is_file()


# ----------------------------------------------------------------------------- 9: JSON nested 100,000 deep
@pytest.mark.parametrize("name", ["config.json", "summary.json", "metrics.jsonl"])
def test_deep_json_in_a_run_is_no_recursion_error(runs, capsys, caplog, name):
    out, run = runs
    shutil.copytree(run, out / "mlp-00000000000f")  # a second run to diff against (it names another run: unreadable)
    (run / name).write_text(DEEP)
    assert _cli(["runs", "--out", str(out)]) == 0
    table = capsys.readouterr()
    assert "Traceback" not in table.err and "2 runs" in table.out
    assert _cli(["runs", "--out", str(out), "show", run.name]) == 0
    shown = capsys.readouterr().out
    if name != "metrics.jsonl":
        assert "status: unreadable" in shown and "nested too deeply" in shown
        code = _cli(["runs", "--out", str(out), "diff", run.name, "mlp-00000000000f"])
        assert "is unreadable" in one_line_error(capsys, code)
    if __import__("importlib.util").util.find_spec("tensorboard") is not None:
        assert _cli(["runs", "--out", str(out), "tensorboard"]) == 0
        assert "Traceback" not in capsys.readouterr().err
    (out / "mlp-00000000000f" / "metrics.jsonl").unlink()  # keep the second run out of the retraining below
    _retrained_once(runs, caplog, capsys)


def test_read_run_and_the_history_are_read_through_readback(runs):
    from cnnlab.core.errors import DataError
    from cnnlab.core.runs.folders import read_run

    _, run = runs
    (run / "metrics.jsonl").write_text('{"epoch": 1}\n' + DEEP + "\n")
    with pytest.raises(DataError, match="nested too deeply"):
        read_run(run)


# ----------------------------------------------------------------------------- 3: --jobs is bounded
def test_jobs_beyond_four_per_core_are_capped_with_one_warning(caplog, monkeypatch, capsys):
    import cnnlab.faces.training.mlp_recipes
    from cnnlab.core.errors import CnnlabError
    from cnnlab.core.runtime import JOBS_PER_CORE, RuntimeOptions, max_jobs

    assert max_jobs() == JOBS_PER_CORE * (os.cpu_count() or 1)
    with caplog.at_level(logging.WARNING):
        assert RuntimeOptions(jobs=100_000).jobs == max_jobs() and RuntimeOptions(jobs=1).jobs == 1
    assert len(caplog.records) == 1 and "--jobs 100000" in caplog.records[0].getMessage()
    seen = {}

    def no_recipes(config, seeds, out, **common):
        seen.update(common)
        raise CnnlabError("stopped before training")

    monkeypatch.setattr(cnnlab.faces.training.mlp_recipes, "select_mlp_recipe", no_recipes)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        code = _cli(["part2", "recipes", "--actors", "s1,s2,s3", "--jobs", "100000"])
    # the note is one warning line on the terminal (warnings reach it: cli.output), then the error's one line
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 2 and "--jobs 100000" in err[0], err
    assert err[1] == "cnnlab: error: stopped before training", err
    assert seen["jobs"] == max_jobs() and sum("--jobs 100000" in r.getMessage() for r in caplog.records) == 1


# ----------------------------------------------------------------------------- 13, 14: malformed numbers
def test_cnn_widths_are_checked_before_anything_is_allocated(capsys):
    code = _cli(["part2", "cnn", "--widths", "abc"])
    assert "--widths must be comma-separated integers" in one_line_error(capsys, code)
    code = _cli(["part2", "cnn", "--widths", "100000,100000"])
    assert "parameters, more than the limit" in one_line_error(capsys, code)


@pytest.mark.parametrize("value", ["infM", "nanG", "-5k", "0"])
def test_faces_download_max_bytes_must_be_a_positive_count(tmp_path, capsys, value):
    code = _cli(["faces", "download", "--list", "x.txt", "--out", str(tmp_path / "f"), f"--max-bytes={value}"])
    assert "--max-bytes: not a positive byte count" in one_line_error(capsys, code)


# ----------------------------------------------------------------------------- 16: runs show of no run
@pytest.mark.parametrize("ref", ["/etc", "", ".", "..", "suites"])
def test_runs_show_of_a_folder_that_is_no_run_is_an_error(runs, capsys, ref):
    out, run = runs
    (out / "suites").mkdir()
    code = _cli(["runs", "--out", str(out), "show", ref])
    assert "no run" in one_line_error(capsys, code)
    assert _cli(["runs", "--out", str(out), "show", run.name]) == 0
    assert _cli(["runs", "--out", str(out), "show", str(run)]) == 0


# ----------------------------------------------------------------------------- also: --seeds and --repeats
def test_seeds_lists_seeds_and_repeats_counts_them(runs, capsys):
    out, _ = runs
    assert _cli([*TINY_MLP, "--out", str(out), "--seeds", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["seed"] == 5  # seed 5 alone, not five seeds
    assert _cli([*TINY_MLP, "--out", str(out), "--repeats", "2", "--json"]) == 0
    assert [r["seed"] for r in json.loads(capsys.readouterr().out)] == [0, 1]
    code = _cli([*TINY_MLP, "--out", str(out), "--seeds", "0", "--repeats", "2"])
    assert "not allowed with argument --seeds" in one_line_error(capsys, code)
    code = _cli([*TINY_MLP, "--out", str(out), "--repeats", "0,1"])
    assert "--repeats must be a count" in one_line_error(capsys, code)


def test_seed_lists_take_ranges_and_stay_bounded():
    from cnnlab.core.config import as_ids, id_count, seed_list
    from cnnlab.core.errors import ConfigError

    assert seed_list("0-4") == (0, 1, 2, 3, 4) and seed_list("0-2,7,") == (0, 1, 2, 7) and seed_list("5") == (5,)
    assert id_count("3") == (0, 1, 2) and as_ids("3", "--seeds") == (0, 1, 2)  # the API keeps its meaning
    for bad, why in (
        ("abc", "must list seeds"),
        ("4-2", "backwards"),
        ("0-4000000000", "from 1 to"),
        ("1,0-2", "twice"),
    ):
        with pytest.raises(ConfigError, match=why):
            seed_list(bad)
    with pytest.raises(ConfigError, match="to name seeds, use --seeds"):
        id_count("0,2")


# ----------------------------------------------------------------------------- also: --sort without runs
def test_runs_sort_by_an_unknown_key_is_refused_without_runs(tmp_path, capsys):
    (tmp_path / "runs").mkdir()
    code = _cli(["runs", "--out", str(tmp_path / "runs"), "--sort", "bogus"])
    assert "unknown --sort key 'bogus'" in one_line_error(capsys, code)
    assert _cli(["runs", "--out", str(tmp_path / "runs"), "--sort", "val_acc"]) == 0
    assert _cli(["runs", "--out", str(tmp_path / "runs"), "--sort", "train.optimizer.lr"]) == 0
