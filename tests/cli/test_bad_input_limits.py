"""Bad input at the limits: bounded configs and error messages (1), a `runs` catalogue that
never raises (2), one-line errors when the environment fails: a full disk, an --out that is a file, a
malformed --storage (3), and the smaller gaps: a race-free atomic_dir, stale temporaries, --jobs 0,
--repeats 0, torch's warning before a refused pickle, no empty --out left behind (4).
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
import time
import tracemalloc
import warnings
from pathlib import Path

import pytest

from cli_helpers import one_line_error
from cnnlab.cli.app import main
from cnnlab.core.config import MAX_CONFIG_BYTES, load_yaml, resolve_config
from cnnlab.core.errors import CnnlabError, ConfigError, shorten

SRC = str(Path(__file__).resolve().parents[2] / "src")
ENV = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _cli(args: list[str]) -> int:
    """main(args), with argparse's usage errors (SystemExit) as their exit status."""
    try:
        return main(args)
    except SystemExit as exc:
        return int(exc.code or 0)


def _alias_bomb(levels: int = 9) -> str:
    """The issue's 444-byte config: 9 levels of 9-way aliases, 8**9 = 134 million strings once expanded."""

    def node(i: int) -> str:
        return "&l0 lol" if i == 0 else f"&l{i} [{node(i - 1)}, " + ", ".join([f"*l{i - 1}"] * 8) + "]"

    return "model:\n  filters: [" + node(levels) + "]\n"


# ----------------------------------------------------------------------------- 1: bounded configs and messages
def test_alias_bomb_is_refused_in_under_a_second_and_200_mb(tmp_path):
    bomb = tmp_path / "b.yaml"
    bomb.write_text(_alias_bomb())
    assert bomb.stat().st_size < 450
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ConfigError, match="alias") as err:
            load_yaml(bomb)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seconds < 1.0 and peak < 200e6, (seconds, peak)
    assert str(bomb) in str(err.value) and len(str(err.value)) < 300


def test_alias_bomb_cli_under_a_memory_limit(tmp_path):
    """`cnnlab train --config b.yaml` with the address space capped at 200 MB above what the imports use:
    one line, exit 2, in under a second (today: 8.4 GB, 64 s, then a 2.1 GB error line)."""
    bomb = tmp_path / "b.yaml"
    bomb.write_text(_alias_bomb())
    script = textwrap.dedent(f"""
        import resource, sys, time
        import cnnlab.art.run, cnnlab.cli.app  # imports first: the limit is on top of them
        size = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmSize:")) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size + 200 * 2**20, resource.RLIM_INFINITY))
        start = time.perf_counter()
        code = cnnlab.cli.app.main(["train", "--config", {str(bomb)!r}, "--out", {str(tmp_path / "runs")!r}])
        print("SECONDS", time.perf_counter() - start)
        sys.exit(code)
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, env=ENV, timeout=120
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "alias" in lines[0] and len(lines[0]) < 300, proc.stderr[-2000:]
    assert float(proc.stdout.split("SECONDS")[1]) < 1.0
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "text, message",
    [
        ("model:\n  filters: &a [1, *a]\n", "alias"),  # an alias inside itself
        ("a: " + "[" * 3000 + "]" * 3000 + "\n", "nests too deeply"),
        ("model:\n  filters: &a [8, 8, 8, 8, 8, 8, 8, 8]\n  fc_sizes: *a\n", None),  # a small alias is fine
    ],
)
def test_yaml_aliases_and_nesting_are_bounded(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    if message is None:
        assert load_yaml(path)["model"]["fc_sizes"] == [8] * 8
        return
    with pytest.raises(ConfigError, match=message):
        load_yaml(path)


def test_config_file_over_the_cap_is_refused_before_parsing(tmp_path, capsys):
    big = tmp_path / "big.yaml"
    big.write_text("model:\n  filters: [" + "1, " * (MAX_CONFIG_BYTES // 3) + "1]\n")
    start = time.perf_counter()
    code = main(["describe", "--config", str(big)])
    assert "over the limit of 1,048,576" in one_line_error(capsys, code)
    assert time.perf_counter() - start < 1.0  # parsing it would take seconds


def test_alias_bomb_in_a_set_override_is_refused(capsys):
    bomb = "model.filters=" + _alias_bomb().split("filters: ", 1)[1].strip()
    code = main(["describe", "--set", bomb])
    line = one_line_error(capsys, code)
    assert "alias" in line and len(line) < 300


def test_user_values_in_error_messages_are_shortened(capsys):
    code = main(["describe", "--set", "train.optimizer.lr=" + "x" * 100_000])
    line = one_line_error(capsys, code)
    assert "train.optimizer.lr" in line and "xxx..." in line and len(line) < 200
    with pytest.raises(ConfigError) as err:
        resolve_config(
            __import__("cnnlab.art.config", fromlist=["RunConfig"]).RunConfig,
            None,
            ["model.filters=" + str(list(range(50_000)))],
        )
    assert len(str(err.value)) < 300
    nested: list = ["lol"]
    for _ in range(40):  # 8**40 strings as a tree: only a bounded repr can print it
        nested = [nested] * 8
    assert len(shorten(nested)) <= 80 and len(shorten("y" * 10**6)) <= 80 and shorten([1, 2]) == "[1, 2]"


# ----------------------------------------------------------------------------- 2: the runs catalogue
def _run(root: Path, rid: str, seed=0, config=None, **summary) -> Path:
    """A run folder as core.runs writes it (config.json + summary.json), nothing trained."""
    path = root / rid
    path.mkdir(parents=True)
    config = {"train": {"optimizer": {"lr": 0.001}}} if config is None else config
    (path / "config.json").write_text(
        json.dumps({"kind": "cnn", "seed": 0, "version": "0", "data": {"name": "d", "hash": "h"}, "config": config})
    )
    text = json.dumps(
        {
            "run_id": rid,
            "kind": "cnn",
            "version": "0",
            "seed": 0,
            "data": {"name": "d"},
            "wall_seconds": 1.0,
            "val_acc": 0.5,
            **summary,
        }
    )
    (path / "summary.json").write_text(text.replace('"seed": 0', f'"seed": {seed}'))
    return path


@pytest.fixture
def hostile_runs(tmp_path) -> Path:
    root = tmp_path / "runs"
    _run(root, "cnn-000000000001")
    _run(root, "cnn-000000000002", seed="Infinity")  # json.load accepts it
    _run(root, "cnn-000000000003", config="oops")
    os.symlink("b", root / "cnn-00000000000a")  # a symlink loop
    os.symlink("cnn-00000000000a", root / "b")
    (root / "suites" / "x").mkdir(parents=True)
    (root / "suites" / "x" / "suite.json").write_text("[1, 2]")
    (root / "suites" / "y").mkdir()
    (root / "suites" / "y" / "suite.json").write_text(
        json.dumps({"rows": [5, {"run_ids": [["a"], {"b": 1}, "cnn-000000000001"]}], "trials": "x"})
    )
    (root / "sweeps").mkdir()
    (root / "sweeps" / "s.json").write_text(json.dumps({"trials": [{"run_id": ["a"]}, {"run_id": {"x": 1}}, 3]}))
    return root


def test_runs_table_never_raises_and_lists_bad_entries_with_the_reason(hostile_runs, capsys):
    from cnnlab.core.runs.catalog import list_runs

    rows = {r.run_id: r for r in list_runs(hostile_runs)}
    assert rows["cnn-000000000001"].ok and rows["cnn-000000000001"].suites == ("y",)
    assert rows["cnn-000000000002"].status == "unreadable" and "Infinity" in rows["cnn-000000000002"].problem
    assert rows["cnn-000000000003"].status == "unreadable" and "no config" in rows["cnn-000000000003"].problem
    assert rows["cnn-00000000000a"].status == "unreadable" and "symbolic links" in rows["cnn-00000000000a"].problem
    assert main(["runs", "--out", str(hostile_runs)]) == 0
    captured = capsys.readouterr()
    assert "4 runs (3 unreadable or half-written)" in captured.out and "Traceback" not in captured.err
    assert main(["runs", "--out", str(hostile_runs), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 4


def test_runs_tensorboard_survives_a_symlink_loop(hostile_runs, capsys):
    pytest.importorskip("tensorboard")
    assert main(["runs", "tensorboard", str(hostile_runs)]) == 0
    assert "Traceback" not in capsys.readouterr().err


def test_runs_diff_of_a_run_with_a_config_that_is_not_an_object(hostile_runs, capsys):
    code = main(["runs", "--out", str(hostile_runs), "diff", "cnn-000000000001", "cnn-000000000003"])
    assert "cnn-000000000003 is unreadable (config.json holds no config)" in one_line_error(capsys, code)


def test_the_catalogue_and_the_run_cache_apply_one_rule(hostile_runs):
    from cnnlab.core.runs.catalog import read_row
    from cnnlab.core.runs.folders import run_problem

    path = hostile_runs / "cnn-000000000002"
    (path / "metrics.jsonl").write_text('{"epoch": 1}\n')
    assert run_problem(path) is not None  # the cache would have reused a run whose seed is Infinity
    path = _run(hostile_runs, "cnn-000000000004", seed=1.5)
    (path / "metrics.jsonl").write_text('{"epoch": 1}\n')
    assert run_problem(path) == read_row(path).problem == "summary.json's seed is not an integer"
    path = _run(hostile_runs, "cnn-000000000005", train_acc=int("9" * 400))  # beyond the float range
    assert not read_row(path).ok and "train_acc is not an accuracy" in read_row(path).problem  # issue 30 item 15


@pytest.mark.parametrize(
    "where, message",
    [
        ("lr>>1", "malformed --where"),
        ("a=[1,2", "not a valid JSON list"),
        ("no.such.key=1", "unknown --where key"),
    ],
)
def test_runs_where_mistakes_are_errors_not_no_match(hostile_runs, capsys, where, message):
    code = main(["runs", "--out", str(hostile_runs), "--where", where])
    assert message in one_line_error(capsys, code)
    assert main(["runs", "--out", str(hostile_runs), "--where", "train.optimizer.lr<1"]) == 0  # a known key still works
    assert "cnn-000000000001" in capsys.readouterr().out


def test_runs_sort_by_an_unknown_key_names_the_sortable_keys(hostile_runs, capsys):
    code = main(["runs", "--out", str(hostile_runs), "--sort", "bogus"])
    line = one_line_error(capsys, code)
    assert "--sort" in line and "bogus" in line and "val_acc" in line and "train.optimizer.lr" in line
    assert main(["runs", "--out", str(hostile_runs), "--sort", "train.optimizer.lr"]) == 0


# ----------------------------------------------------------------------------- 3: the environment fails
def _limited(args: list[str], kib: int, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """`cnnlab ARGS` with files capped at `kib` KiB (ulimit -f) and SIGXFSZ ignored: writes past the cap
    fail with EFBIG, as on a full disk."""
    script = (
        "import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({kib * 1024}, {kib * 1024})); "
        "from cnnlab.cli.app import main; sys.exit(main(sys.argv[1:]))"
    )
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        check=False,
        capture_output=True,
        text=True,
        env=env or ENV,
        cwd=cwd,
        timeout=600,
    )


def test_train_on_a_full_disk_is_one_line_and_a_rerun_finishes(tmp_path):
    out = tmp_path / "runs"
    args = ["train", "--epochs", "1", "--out", str(out)]
    env = {**ENV, "CNNLAB_CACHE": str(tmp_path / "cache")}
    proc = _limited(args, 64, tmp_path, env)  # the checkpoints are 430 KB
    lines = [x for x in proc.stderr.strip().splitlines() if not x.startswith("WARNING ")]  # the data cache: a warning
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "cannot write" in lines[0] and str(out) in lines[0] and "File too large" in lines[0]
    assert not [p for p in out.iterdir()]  # nothing half-written survives
    again = subprocess.run(
        [sys.executable, "-m", "cnnlab", "train", *args[1:], "--json"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert (out / json.loads(again.stdout)["run_id"] / "best.pt").is_file()


def test_faces_download_on_a_full_disk_is_one_line_and_a_rerun_finishes(tmp_path):
    from cnnlab.faces import read_manifest
    from faces_helpers import FaceServer, Route, list_line, make_image, sha, write_list

    server = FaceServer().start()
    try:
        images = [make_image(i, size=(24, 24)) for i in range(60)]
        lines = [
            list_line("Peri Gilpin", i, server.add(f"/r/{i}.jpg", Route("bytes", d)), "1,1,20,20", sha(d))
            for i, d in enumerate(images)
        ]
        lst = write_list(tmp_path / "faces.txt", lines)
        args = [
            "faces",
            "download",
            "--list",
            str(lst),
            "--out",
            str(tmp_path / "out"),
            "--no-progress",
            "--workers",
            "2",
            "--rgb-size",
            "16",
            "--gray-size",
            "8",
        ]
        proc = _limited(args, 4, tmp_path)  # every image fits; the manifest journal does not
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-3000:]
        assert "cannot write" in lines[0] and str(tmp_path / "out") in lines[0] and "File too large" in lines[0]
        again = subprocess.run(
            [sys.executable, "-m", "cnnlab", *args], check=False, capture_output=True, text=True, env=ENV, timeout=300
        )
        assert again.returncode == 0, again.stderr[-2000:]
        assert [r["status"] for r in read_manifest(tmp_path / "out")] == ["ok"] * 60
    finally:
        server.stop()


@pytest.mark.parametrize("command", [["train", "--epochs", "1"], ["lr-find", "--steps", "10"]])
def test_out_that_is_a_file_is_refused_before_any_work(tmp_path, capsys, monkeypatch, command):
    import cnnlab.art.lr_find
    import cnnlab.art.run

    def no_work(*args, **kwargs):
        raise AssertionError("the data was prepared before --out was checked")

    monkeypatch.setattr(cnnlab.art.run, "prepare_data", no_work)
    monkeypatch.setattr(cnnlab.art.lr_find, "prepare_data", no_work)
    afile = tmp_path / "afile"
    afile.write_text("x")
    code = main([*command, "--out", str(afile)])
    assert "exists and is not a folder" in one_line_error(capsys, code)
    code = main([*command, "--out", str(afile / "sub")])
    assert f"{afile} is not a folder" in one_line_error(capsys, code)


@pytest.mark.parametrize("url", ["postgresql://u:pw@host:notaport/db", "mysql://u:pw@[::1/db", "a://u:pw@h:x:y/db"])
def test_malformed_storage_url_is_one_line_with_the_password_masked(tmp_path, capsys, url):
    out = tmp_path / "sweep-out"
    code = main(["sweep", "--storage", url, "--trials", "1", "--out", str(out)])
    line = one_line_error(capsys, code)
    assert "malformed storage URL" in line and "***" in line and "pw" not in line
    assert not out.exists()  # no empty --out folder left behind
    code = main(["sweep", "--show", "--storage", url])
    assert "pw" not in one_line_error(capsys, code)


# ----------------------------------------------------------------------------- 4: smaller gaps
def test_atomic_dir_is_race_free_between_two_processes(tmp_path):
    script = textwrap.dedent(f"""
        import os, sys, time
        from pathlib import Path
        from cnnlab.core.io import atomic_dir
        target, go = Path({str(tmp_path / "target")!r}), Path({str(tmp_path / "go")!r})
        while not go.exists():
            time.sleep(0.001)
        failures = 0
        for i in range(1500):
            try:
                with atomic_dir(target) as tmp:
                    (tmp / "a.txt").write_text(str(i))
                    (tmp / "b.txt").write_text(str(os.getpid()))
            except OSError as exc:
                failures += 1
                print(repr(exc), file=sys.stderr)
        print(failures)
    """)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
        )
        for _ in range(2)
    ]
    time.sleep(1.0)  # both imported and waiting
    (tmp_path / "go").touch()
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert [out.strip() for out, _ in results] == ["0", "0"], results
    assert sorted(p.name for p in (tmp_path / "target").iterdir()) == ["a.txt", "b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["go", "target"]  # nothing set aside is left


def test_temporaries_of_a_killed_inspect_are_cleaned_by_the_rerun(tmp_path):
    from cnnlab.core.diagnostics.metrics import DIAGNOSTICS_DIR
    from cnnlab.core.io import atomic_dir

    run = tmp_path / "cnn-0123456789ab"
    run.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], check=False, capture_output=True, text=True
    ).stdout.strip()
    for name in (f".{DIAGNOSTICS_DIR}.tmp-{dead}", f".{DIAGNOSTICS_DIR}.old-{dead}-0"):
        (run / name).mkdir()
        (run / name / "confusion_test.csv").write_text("half")
    (run / f".{DIAGNOSTICS_DIR}.tmp-1").mkdir()  # pid 1 is alive: its folder is kept
    with atomic_dir(run / DIAGNOSTICS_DIR) as tmp:
        (tmp / "diagnostics.json").write_text("{}")
    assert sorted(p.name for p in run.iterdir()) == [f".{DIAGNOSTICS_DIR}.tmp-1", DIAGNOSTICS_DIR]


@pytest.mark.parametrize(
    "args, flag",
    [
        (["--jobs", "0"], "argument --jobs"),
        (["--jobs", "-1"], "argument --jobs"),
        (["--repeats", "0"], "--repeats"),
        (["--seeds", "abc"], "--seeds"),
        (["--seeds", "1,1"], "--seeds"),
        (["--repeats", "1,1"], "--repeats"),
        (["--seeds", "5", "--repeats", "3"], "--repeats: not allowed with argument --seeds"),
    ],
)
def test_experiment_flags_are_checked_and_named_as_typed(tmp_path, capsys, monkeypatch, args, flag):
    import cnnlab.art.suites.runner

    def no_suite(*a, **k):
        raise AssertionError("the suite ran despite the bad flag")

    monkeypatch.setattr(cnnlab.art.suites.runner, "run_suite", no_suite)
    code = _cli(["experiment", "pooling", *args, "--out", str(tmp_path / "runs")])
    line = one_line_error(capsys, code)
    assert flag in line and (line.startswith(f"cnnlab: error: {flag}") or "not allowed" in flag)
    assert not (tmp_path / "runs").exists()


def test_report_jobs_zero_is_an_error(capsys, monkeypatch):
    import cnnlab.report

    def no_report(*a, **k):
        raise AssertionError("the report was built despite --jobs 0")

    monkeypatch.setattr(cnnlab.report, "build_report", no_report)
    code = _cli(["report", "--jobs", "0"])
    assert "--jobs" in one_line_error(capsys, code)


def test_a_pickle_that_is_not_weights_is_refused_without_torch_warnings(tmp_path, capsys):
    import argparse

    from cnnlab.faces.models.checkpoints import load_checkpoint

    bad = tmp_path / "pickle.pt"
    with open(bad, "wb") as f:
        pickle.dump(argparse.Namespace(a=1), f, protocol=4)  # protocol 4: torch warns before it refuses
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(CnnlabError) as err:
            load_checkpoint(bad)
    assert not caught, [str(w.message) for w in caught]
    assert "not a weights file" in str(err.value) and "\x1b" not in str(err.value)
    from PIL import Image

    Image.new("RGB", (20, 20)).save(tmp_path / "face.png")
    proc = subprocess.run(
        [sys.executable, "-m", "cnnlab", "predict", str(tmp_path / "face.png"), "--checkpoint", str(bad)],
        check=False,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "not a weights file" in lines[0], proc.stderr
