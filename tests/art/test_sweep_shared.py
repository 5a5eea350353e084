"""Sweeps shared by many machines, against a real PostgreSQL server and real worker processes: two workers
split a study; kill -9 of one mid-trial and the survivor completes all N; SIGTERM gives a trial back at
once; the retry limit ends a trial that always kills its worker; `experiment search` and the report read
the study; bad storage input is one line, exit 2, password masked. Also: temporary run folders that
several hosts can share. The PostgreSQL tests skip without a server (tests/pg_helpers.py); CI sets
CNNLAB_REQUIRE_POSTGRES=1 so that they fail there instead."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid

import pytest

from cnnlab.cli.app import main
from pg_helpers import marks, start_worker, stop, wait_for, worker_env

optuna = pytest.importorskip("optuna")
TrialState = optuna.trial.TrialState
# --batch 0: a shared study (the mode these tests are about), not one process's batches
FAST = [
    "--batch",
    "0",
    "--heartbeat-interval",
    "1",
    "--grace-period",
    "3",
    "--epochs",
    "1",
    "--sampler",
    "random",
    "--no-prune",
]


def _data_args(art_folder) -> list[str]:
    return ["--data", str(art_folder), "--set", "data.image_size=16", "--set", "data.folds=3"]


def _sweep_args(url: str, study: str, trials: int, art_folder, out, *extra: str) -> list[str]:
    return [
        "--storage",
        url,
        "--study",
        study,
        "--trials",
        str(trials),
        "--out",
        str(out),
        *_data_args(art_folder),
        *FAST,
        *extra,
    ]


def _trials(url: str, study: str):
    from cnnlab.art.sweep.storage import open_storage

    return optuna.load_study(study_name=study, storage=open_storage(url, heartbeat=False)).get_trials(deepcopy=False)


def _final(url: str, study: str, n: int):
    """Check the study holds n finished trials (complete/pruned/failed for good), none running or waiting."""
    from cnnlab.art.sweep.lifecycle import progress

    trials = _trials(url, study)
    state = progress(trials)
    assert (state.finished, state.running, state.waiting) == (n, 0, 0), [
        (t.number, t.state, t.user_attrs) for t in trials
    ]
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    return trials


def _retry_of(trials, number: int):
    return [t for t in trials if t.user_attrs.get("replaces") == number]


def test_two_workers_split_a_study_then_experiment_search_reads_it(postgres_url, art_folder, tmp_path, capsys):
    study = f"split-{uuid.uuid4().hex[:6]}"
    env = worker_env(tmp_path, CNNLAB_TEST_TRIAL_SLEEP="0.7")
    hosts = [tmp_path / f"host{i}" for i in range(2)]
    for h in hosts:
        h.mkdir()
    procs = [start_worker(_sweep_args(postgres_url, study, 8, art_folder, h / "runs"), env, h / "log") for h in hosts]
    try:
        codes = [p.wait(timeout=240) for p in procs]
    finally:
        for p in procs:
            stop(p)
    logs = [(h / "log").read_text() for h in hosts]
    assert codes == [0, 0], logs
    trials = _final(postgres_url, study, 8)
    assert sorted(t.number for t in trials) == list(range(len(trials)))  # unique numbers, none lost
    by_worker = {t.user_attrs["worker"] for t in trials if t.state == TrialState.COMPLETE}
    assert len(by_worker) == 2  # both processes took part
    for t in trials:  # each trial's run folder is in the --out of the host that ran it
        if t.state == TrialState.COMPLETE:
            pid = int(t.user_attrs["worker"].rsplit(":", 1)[1])
            host = hosts[[p.pid for p in procs].index(pid)]
            assert (host / "runs" / t.user_attrs["run_id"] / "summary.json").is_file()
    password = postgres_url.split(":")[2].split("@")[0]
    assert all(password not in text for text in logs) and all("***@127.0.0.1" in text for text in logs)

    # a worker with another base config stays refused (one line, exit 2)
    refused = main(["sweep", *_sweep_args(postgres_url, study, 8, art_folder, tmp_path / "other"), "--epochs", "2"])
    err = capsys.readouterr().err
    assert refused == 2 and "another base config (train.epochs: 1 vs 2)" in err and err.count("\n") == 1

    # `experiment search` reads the shared study: best configuration retrained on the repeats, none searched here
    out = tmp_path / "experiment"
    assert (
        main(
            [
                "experiment",
                "search",
                "--storage",
                postgres_url,
                "--study",
                study,
                "--quick",
                "--out",
                str(out),
                *_data_args(art_folder),
            ]
        )
        == 0
    )
    text = capsys.readouterr()
    meta = json.loads((out / "suites" / "search" / "suite.json").read_text())
    assert meta["study"] == study and meta["shared"] and meta["storage"] == postgres_url.replace(password, "***")
    assert meta["n_finished"] == meta["target"] == 8 and len(meta["trials"]) == len(trials)
    # its top 3 retrained on the repeats (suites.choice): the winner's parameters, and the 1.6 answer's config
    ranked = sorted((t for t in trials if t.state == TrialState.COMPLETE), key=lambda t: (-t.value, t.number))
    winner = next(t for t in ranked[:3] if t.number == meta["winner_trial"])
    assert meta["best_params"] == winner.params
    answer = winner.user_attrs["config"]["model"] if meta["answer"] == "search" else meta["base_config"]["model"]
    assert meta["best_config"]["model"] == answer
    assert meta["rows"][0]["n"] == 1 and not (out / "optuna.db").exists()
    assert password not in text.out + text.err + json.dumps(meta)

    # the report reads it the same way, and names the study and the masked storage
    from cnnlab.art.config import RunConfig
    from cnnlab.core.runtime import RuntimeOptions
    from cnnlab.report import ReportOptions
    from cnnlab.report.collect import part1_suite_options
    from cnnlab.report.sections.search import search_origin

    options = ReportOptions(
        runtime=RuntimeOptions(out=out),
        report_dir=tmp_path / "report",
        quick=True,
        search_storage=postgres_url,
        search_study=study,
    )
    suite_options = part1_suite_options(options, RunConfig())
    assert (suite_options.search_storage, suite_options.search_study) == (postgres_url, study)
    origin = search_origin(meta)
    assert study in origin and "***@127.0.0.1" in origin and password not in origin and "8 of 8" in origin


def test_kill_9_mid_trial_survivor_completes_all_trials(postgres_url, art_folder, tmp_path):
    study = f"kill-{uuid.uuid4().hex[:6]}"
    seen = tmp_path / "marks"
    seen.mkdir()
    env = worker_env(tmp_path, CNNLAB_TEST_TRIAL_SLEEP="2.5", CNNLAB_TEST_MARKS=str(seen))
    a = start_worker(_sweep_args(postgres_url, study, 3, art_folder, tmp_path / "a"), env, tmp_path / "a.log")
    b = start_worker(_sweep_args(postgres_url, study, 3, art_folder, tmp_path / "b"), env, tmp_path / "b.log")
    try:
        # a list, not the number: trial 0 is falsy and would never end the wait; the largest is the one in hand
        number = max(wait_for(lambda: [n for pid, n in marks(seen) if pid == a.pid], 120, "worker a to start a trial"))
        os.kill(a.pid, signal.SIGKILL)  # mid-trial: the hook sleeps 2.5 s before training
        killed_at = time.time()
        assert a.wait(timeout=30) == -signal.SIGKILL
        assert b.wait(timeout=180) == 0, (tmp_path / "b.log").read_text()
    finally:
        stop(a)
        stop(b)
    trials = _final(postgres_url, study, 3)
    dead = trials[number]
    assert dead.state == TrialState.FAIL
    retry = _retry_of(trials, number)
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE and retry[0].params == dead.params
    assert retry[0].user_attrs["worker"].endswith(f":{b.pid}") and retry[0].user_attrs["lost"] == 1
    again = (seen / f"{b.pid}-{retry[0].number}").stat().st_mtime
    assert again - killed_at < 30  # run again after the grace period (3 s) and b's trial in hand
    from cnnlab.art.sweep.study import load_sweep

    result = load_sweep(study, postgres_url)
    row = next(r for r in result.trials if r["number"] == number)
    assert row["status"] == "replaced" and "worker died" in row["note"]
    assert (result.n_finished, result.n_running, result.n_waiting) == (3, 0, 0)


def test_sigterm_gives_the_trial_back_at_once(postgres_url, art_folder, tmp_path):
    study = f"term-{uuid.uuid4().hex[:6]}"
    seen = tmp_path / "marks"
    seen.mkdir()
    env = worker_env(tmp_path, CNNLAB_TEST_TRIAL_SLEEP="30", CNNLAB_TEST_MARKS=str(seen))
    # one in-process worker, as a scheduler or `kill` signals it
    a = start_worker(_sweep_args(postgres_url, study, 3, art_folder, tmp_path / "a"), env, tmp_path / "a.log")
    try:
        wait_for(lambda: [n for pid, n in marks(seen) if pid == a.pid], 120, "worker a to start a trial")
        a.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        assert a.wait(timeout=20) == 143
        assert time.monotonic() - t0 < 10  # at once, not after the trial or the grace period
    finally:
        stop(a)
    assert "stopped by signal 15" in (tmp_path / "a.log").read_text()
    trials = _trials(postgres_url, study)
    given = [t for t in trials if t.state == TrialState.FAIL]
    assert len(given) == 1 and given[0].user_attrs["interrupted"] == "stopped by SIGTERM"
    assert [t.state for t in _retry_of(trials, given[0].number)] == [TrialState.WAITING]
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    # `--workers 2` (docker stop signals the parent alone): the parent passes SIGTERM on, every trial comes back
    p = start_worker(
        _sweep_args(postgres_url, study, 3, art_folder, tmp_path / "p", "--workers", "2"), env, tmp_path / "p.log"
    )
    try:
        wait_for(lambda: len([n for pid, n in marks(seen) if pid != a.pid]) >= 2, 120, "two workers to start trials")
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=60) == 143, (tmp_path / "p.log").read_text()
    finally:
        stop(p)
    trials = _trials(postgres_url, study)
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert sum(t.user_attrs.get("interrupted") == "stopped by SIGTERM" for t in trials) == 3
    # a fresh worker finishes the study; SIGTERMs do not count as retries
    env = worker_env(tmp_path, CNNLAB_TEST_TRIAL_SLEEP="0")
    assert (
        start_worker(_sweep_args(postgres_url, study, 3, art_folder, tmp_path / "c"), env, tmp_path / "c.log").wait(
            timeout=120
        )
        == 0
    )
    trials = _final(postgres_url, study, 3)
    assert all(t.user_attrs.get("lost", 0) == 0 for t in trials)


def test_retry_limit_fails_a_trial_that_always_kills_its_worker(postgres_url, art_folder, tmp_path):
    study = f"doom-{uuid.uuid4().hex[:6]}"
    env = worker_env(tmp_path, CNNLAB_TEST_TRIAL_SLEEP="0.3", CNNLAB_TEST_DIE_SLOT="0")
    args = _sweep_args(postgres_url, study, 3, art_folder, tmp_path / "runs", "--max-retry", "1")
    procs, deaths, done = [], 0, False
    try:
        procs = [start_worker(args, env, tmp_path / f"w{i}.log") for i in range(2)]
        deadline = time.monotonic() + 240
        while not done and time.monotonic() < deadline:  # like a scheduler: replace a dead worker
            for i, p in enumerate(procs):
                code = p.poll()
                if code == -signal.SIGKILL:
                    deaths += 1
                    assert deaths <= 2, "the trial was retried past --max-retry 1"
                    procs[i] = start_worker(args, env, tmp_path / f"w{len(procs) + deaths}.log")
                elif code == 0:
                    done = True
            time.sleep(0.2)
        assert done
        for p in procs:
            p.wait(timeout=60)
    finally:
        for p in procs:
            stop(p)
    assert deaths == 2  # the first attempt and its one retry
    trials = _final(postgres_url, study, 3)
    doomed = [t for t in trials if t.user_attrs.get("slot") == 0 and "invalid" not in t.user_attrs]
    assert [t.state for t in doomed] == [TrialState.FAIL, TrialState.FAIL] and doomed[0].params == doomed[1].params
    from cnnlab.art.sweep.study import load_sweep

    result = load_sweep(study, postgres_url)
    row = next(r for r in result.trials if r["number"] == doomed[-1].number)
    assert row["status"] == "failed" and "retry limit 1 reached" in row["note"] and "died 2 times" in row["note"]
    assert (result.n_complete + result.n_pruned, result.n_failed, result.n_running) == (2, 1, 0)


def test_bad_postgres_input_is_one_line_exit_2_password_masked(postgres_url, capsys, tmp_path):
    password = postgres_url.split(":")[2].split("@")[0]
    wrong = postgres_url.replace(password, "not-" + password[:4] + "x")
    cases = {
        "password authentication failed": wrong,
        'database "nosuchdb" does not exist': postgres_url.rsplit("/", 1)[0] + "/nosuchdb",
        "no study 'absent'": postgres_url,
    }
    for expected, url in cases.items():
        for argv in (
            ["sweep", "--show", "--storage", url, "--study", "absent", "--out", str(tmp_path)],
            ["experiment", "search", "--storage", url, "--study", "absent", "--quick", "--out", str(tmp_path)],
        ):
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert expected in err and err.count("\n") == 1 and err.startswith("cnnlab: error:"), err
            assert password not in err and "not-" + password[:4] not in err


@pytest.mark.parametrize(
    "url, expected",
    [
        ("postgresql://me:s3cret@127.0.0.1:1/db", "Connection refused"),
        ("postgresql://me:s3cret@127.0.0.1:notaport/db", "malformed storage URL"),
        ("postgresql://me:s3cr@t@127.0.0.1/db", "percent-encode"),
        ("ftp://me:s3cret@host/db", "unsupported storage URL scheme 'ftp'"),
        ("nonsense", "malformed storage URL"),
    ],
)
def test_bad_storage_urls_without_a_server(url, expected, capsys, tmp_path):
    for argv in (
        ["sweep", "--show", "--storage", url, "--study", "x", "--out", str(tmp_path)],
        ["experiment", "search", "--storage", url, "--study", "x", "--quick", "--out", str(tmp_path)],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert expected in err and err.count("\n") == 1, err
        assert "s3cr" not in err and "@t@" not in err
    assert main(["report", "--storage", url, "--out", str(tmp_path / "r"), "--no-compile"]) == 2
    assert "--storage needs --study" in capsys.readouterr().err


def test_heartbeat_flags_are_checked_and_documented(capsys):
    from cnnlab.art.sweep.storage import HEARTBEAT, MAX_RETRY
    from cnnlab.cli import sweep as cli_sweep

    assert (cli_sweep.HEARTBEAT, cli_sweep.MAX_RETRY) == (HEARTBEAT, MAX_RETRY)  # the CLI mirrors the defaults

    assert main(["sweep", "--trials", "2", "--heartbeat-interval", "10", "--grace-period", "10"]) == 2
    assert "must be longer than --heartbeat-interval" in capsys.readouterr().err
    assert main(["sweep", "--trials", "2", "--max-retry", "-1"]) == 2
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"default: {HEARTBEAT[0]}" in text and f"default: {HEARTBEAT[1]}" in text and f"default: {MAX_RETRY}" in text
    assert "a lost trial waits about this long" in text


def test_temporary_folders_shared_by_hosts(tmp_path, monkeypatch):
    from cnnlab.core import processes
    from cnnlab.core.runs.folders import clean_stale_tmp

    here = processes.process_tag()
    assert here == f"{os.getpid()}.{processes.host_tag()}" and "-" not in processes.host_tag()
    dead = 2**22 + 12345  # above the usual pid range
    mine_dead = tmp_path / f".tmp-cnn-0123456789ab-{dead}.{processes.host_tag()}"
    mine_live = tmp_path / f".tmp-cnn-0123456789ab-{here}"
    foreign = tmp_path / f".tmp-cnn-0123456789ab-{os.getpid()}.otherhost"  # a live pid here means nothing there
    foreign_old = tmp_path / f".tmp-cnn-0123456789ab-{dead}.otherhost"
    for path in (mine_dead, mine_live, foreign, foreign_old):
        path.mkdir()
    old = time.time() - 4 * 24 * 3600
    os.utime(foreign_old, (old, old))
    assert clean_stale_tmp(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine_live.name, foreign.name])
    from cnnlab.core.runs.catalog import read_row

    assert read_row(foreign).run_id == "cnn-0123456789ab" and read_row(foreign).status == "half-written"


def test_atomic_dir_temporaries_follow_the_same_host_rule(tmp_path):
    """Diagnostics temporaries (core.io.atomic_dir) are cleaned by the rule of the run folders: this host's dead
    processes' at once, another host's only once old, this process's never."""
    from cnnlab.core import processes
    from cnnlab.core.io import atomic_dir, clean_stale_dirs

    target = tmp_path / "diagnostics"
    dead = 2**22 + 12345
    host = processes.host_tag()
    mine_dead = tmp_path / f".diagnostics.tmp-{dead}.{host}"
    mine_dead_old = tmp_path / f".diagnostics.old-{dead}.{host}-0"
    foreign = tmp_path / f".diagnostics.tmp-{dead}.otherhost"
    foreign_old = tmp_path / f".diagnostics.old-{dead}.otherhost-3"
    mine_live = tmp_path / f".diagnostics.tmp-{processes.process_tag()}"
    for path in (mine_dead, mine_dead_old, foreign, foreign_old, mine_live):
        path.mkdir()
    old = time.time() - 4 * 24 * 3600
    os.utime(foreign_old, (old, old))
    assert clean_stale_dirs(target) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([foreign.name, mine_live.name])
    mine_live.rmdir()
    with atomic_dir(target) as tmp:  # its own temporary carries this process's tag
        assert tmp.name == f".diagnostics.tmp-{processes.process_tag()}"
        (tmp / "a.txt").write_text("x")
    assert (target / "a.txt").is_file()
