"""Sweeps: several worker processes share one study; exactly N trials; storages; the search space."""

from __future__ import annotations

import collections
import os
import sys
import time

import pytest
import torch

from cnnlab.art.config import DataConfig, RunConfig
from cnnlab.art.models import SimpleCNN
from cnnlab.art.sweep.space import MAX_FC_INPUTS, MAX_MACS, architecture_problem
from cnnlab.art.sweep.study import default_storage, load_sweep, run_sweep, suggest_config
from cnnlab.cli.app import main
from cnnlab.core.errors import CnnlabError
from cnnlab.core.train.config import TrainConfig
from pg_helpers import spawned_children

optuna = pytest.importorskip("optuna")
TrialState = optuna.trial.TrialState


@pytest.fixture
def base(art_folder):
    return RunConfig(
        data=DataConfig(name=str(art_folder), image_size=16, test_fraction=0.25, folds=3), train=TrainConfig(epochs=2)
    )


def _raw_trials(storage, name="s"):
    from cnnlab.art.sweep.storage import open_storage

    return optuna.load_study(study_name=name, storage=open_storage(storage, heartbeat=False)).get_trials(deepcopy=False)


def _check_exactly_n(trials, n):
    """N trials counted (complete/pruned/failed), none lost or duplicated; invalid ones each replaced."""
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)) == max(numbers) + 1
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    replaced = collections.Counter(t.user_attrs["replaces"] for t in trials if "replaces" in t.user_attrs)
    assert all(c == 1 for c in replaced.values())  # never two replacements for one trial
    invalid = {t.number for t in trials if "invalid" in t.user_attrs}
    assert invalid <= set(replaced) and all(t.state == TrialState.PRUNED for t in trials if t.number in invalid)
    counted = [t for t in trials if t.number not in replaced]
    assert len(counted) == n
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in counted)
    return counted


@pytest.mark.slow
def test_two_worker_processes_finish_exactly_n_trials(base, tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    result = run_sweep(
        study_name="s", storage=storage, trials=8, workers=2, base=base, out_root=tmp_path / "runs", seed=1, batch=0
    )
    trials = _raw_trials(storage)
    counted = _check_exactly_n(trials, 8)
    assert (result.n_complete + result.n_pruned, result.n_failed, result.n_running, result.n_waiting) == (8, 0, 0, 0)
    assert result.n_finished == result.target == 8
    # both processes took part, and each trial ran in exactly one of them
    workers = {t.user_attrs["worker"] for t in trials}
    assert len(workers) == 2
    # trials drew different settings (per-trial seeds), and complete ones each trained a run
    params = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(params)) == len(params)
    complete = [t for t in counted if t.state == TrialState.COMPLETE]
    assert complete and all((tmp_path / "runs" / t.user_attrs["run_id"] / "summary.json").is_file() for t in complete)
    # the pruner saw validation accuracy every epoch; the objective is that run's validation accuracy
    best = max(complete, key=lambda t: t.value)
    assert sorted(best.intermediate_values) == [1, 2]
    assert result.best_value == best.value and 0.0 <= best.value <= 1.0
    assert result.best_config is not None and result.best_config.model.filters[0] == best.params["filters_1"]
    assert "test_acc" not in str(best.user_attrs)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_inside_shared_workers_the_trials_run_on_the_held_processes(base, tmp_path):
    """A report's search uses the worker processes its suites started, not two fresh ones."""
    from cnnlab.core.pool import map_jobs, shared_workers

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    with shared_workers():
        map_jobs(abs, [(-1,), (2,), (-3,)], 3, 1)
        held = spawned_children(os.getpid())
        # as the report's search does: as many workers as the command holds (any number gives the same study)
        result = run_sweep(
            study_name="s", storage=storage, trials=4, workers=3, base=base, out_root=tmp_path / "runs", seed=1
        )
        after = spawned_children(os.getpid())
    trials = _raw_trials(storage)
    _check_exactly_n(trials, 4)
    assert result.n_finished == 4
    workers = {int(t.user_attrs["worker"].rsplit(":", 1)[1]) for t in trials}
    assert held and workers <= held and held == after  # the trials ran on the held pool, which is still running


def test_journal_storage_resumes_and_extends(base, tmp_path):
    journal = str(tmp_path / "study.log")
    first = run_sweep(study_name="s", storage=journal, trials=3, base=base, out_root=tmp_path / "runs")
    assert first.n_finished == 3
    # rerunning the same command is a no-op (the 3 trials are the study's total, not a per-call count)
    again = run_sweep(study_name="s", storage=journal, trials=3, base=base, out_root=tmp_path / "runs")
    assert again.trials == first.trials
    more = run_sweep(study_name="s", storage=journal, trials=5, base=base, out_root=tmp_path / "runs")
    _check_exactly_n(_raw_trials(journal), 5)
    assert more.n_finished == load_sweep("s", journal).n_finished == 5
    # joining with another base config is refused (every worker must run the same search)
    other = RunConfig(data=base.data, train=TrainConfig(epochs=3))
    with pytest.raises(CnnlabError, match="train.epochs: 2 vs 3"):
        run_sweep(study_name="s", storage=journal, trials=5, base=other, out_root=tmp_path / "runs")


def test_dead_worker_trial_is_failed_and_requeued(base, tmp_path):
    import cnnlab.art.sweep.storage as storage_mod

    live = storage_mod.Liveness(1, 2)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    run_sweep(study_name="s", storage=storage, trials=1, base=base, out_root=tmp_path / "runs", batch=0)
    store = storage_mod.open_storage(storage, live)
    # a worker claims a queued trial, beats once, and dies
    study = optuna.load_study(study_name="s", storage=store)
    study.enqueue_trial({"n_conv": 1})
    study_id = store.get_study_id_from_name("s")
    number, trial_id = storage_mod.claim(store, study_id)
    time.sleep(3.2)  # SQLite's clock has whole seconds
    result = run_sweep(
        study_name="s", storage=storage, trials=1, base=base, out_root=tmp_path / "runs", liveness=live, batch=0
    )
    trials = _raw_trials(storage)
    dead = trials[number]
    assert dead.state == TrialState.FAIL
    retry = [t for t in trials if t.user_attrs.get("replaces") == number]
    assert len(retry) == 1 and retry[0].params["n_conv"] == 1 and retry[0].state.is_finished()
    assert result.n_running == result.n_waiting == 0
    assert [r["status"] for r in result.trials if r["number"] == number] == ["replaced"]


@pytest.mark.parametrize(
    "storage, message",
    [
        ("nonsense", "malformed storage URL"),
        ("foo://host/db", "unsupported storage URL scheme"),
        ("sqlite:///{tmp}/missing/dir/x.db", "does not exist"),
        ("{tmp}/missing/dir/x.log", "does not exist"),
        ("postgresql://me:secret123@127.0.0.1:1/db", "storage 'postgresql://me:\\*\\*\\*@127.0.0.1:1/db'"),
    ],
)
def test_bad_storage_is_one_clean_error(base, tmp_path, storage, message):
    with pytest.raises(CnnlabError, match=message) as info:
        run_sweep(study_name="s", storage=storage.format(tmp=tmp_path), trials=2, base=base, out_root=tmp_path / "runs")
    assert "secret123" not in str(info.value) and "\n" not in str(info.value)


def test_cli_errors_and_show(base, tmp_path, capsys):
    out = str(tmp_path / "runs")
    assert main(["sweep", "--trials", "0", "--out", out]) == 2
    assert "--trials must be a positive integer" in capsys.readouterr().err
    assert main(["sweep", "--trials", "2", "--storage", "bogus", "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cnnlab: error: malformed storage URL") and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()  # issue 22: a failed --storage leaves no empty --out folder
    (tmp_path / "runs").mkdir()
    assert main(["sweep", "--show", "--study", "absent", "--out", out]) == 2
    assert "optuna.db does not exist" in capsys.readouterr().err  # --show creates no storage
    args = [
        "sweep",
        "--trials",
        "2",
        "--data",
        base.data.name,
        "--set",
        "data.image_size=16",
        "--set",
        "data.folds=4",
        "--epochs",
        "1",
        "--out",
        out,
        "--study",
        "cli",
    ]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "2 of 2 trials finished" in text and default_storage(out) in text
    assert main(["sweep", "--show", "--study", "cli", "--out", out, "--json"]) == 0
    assert '"n_finished": 2' in capsys.readouterr().out


def test_suggest_config_is_always_trainable_or_pruned_with_a_reason():
    from cnnlab.art.transforms import TRANSFORMS

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0), direction="maximize")
    seen = collections.defaultdict(set)
    valid = 0
    for _ in range(120):
        trial = study.ask()
        try:
            config = suggest_config(trial, RunConfig())
        except optuna.TrialPruned:
            reason = trial.user_attrs["invalid"]
            assert any(word in reason for word in ("below 1x1", "FC inputs", "multiply-adds"))
            study.tell(trial, state=TrialState.PRUNED)
            continue
        valid += 1
        assert architecture_problem(config) is None
        model = SimpleCNN(config.model, num_classes=11, image_size=50)  # builds: no map below 1x1
        c, h, w = model.feature_shape
        assert c * h * w <= MAX_FC_INPUTS
        if valid <= 10:
            assert model(torch.zeros(2, 3, 50, 50)).shape == (2, 11)
        for key, value in trial.params.items():
            seen[key].add(value if not isinstance(value, float) else round(value, 1))
        assert bool(config.augment.probabilities) == trial.params["augment"]
        assert set(config.augment.probabilities) <= set(TRANSFORMS.names())
        study.tell(trial, 0.5)
    assert valid >= 60  # most random draws train at 50x50
    assert seen["optimizer"] == {"sgd", "adam", "adamw", "rmsprop"}
    assert {"none", "step", "cosine", "exponential", "plateau", "onecycle"} <= seen["scheduler"]
    assert seen["n_conv"] == {1, 2, 3, 4} and seen["batch_norm"] == seen["lrn"] == seen["weight_norm"] == {False, True}
    assert any(k.startswith("aug_") for k in seen) and seen["padding"] == {"valid", "same"}


def test_architecture_limits_name_the_problem():
    from cnnlab.art.config import ModelConfig

    tiny = RunConfig(data=DataConfig(image_size=8), model=ModelConfig(filters=(8, 8), kernel_sizes=5, strides=2))
    assert "below 1x1" in architecture_problem(tiny)
    wide = RunConfig(model=ModelConfig(filters=(64,), kernel_sizes=3, strides=1, paddings=1))
    assert "FC inputs" in architecture_problem(wide)
    # 32x32 -> 32 -> pool 16 -> 16 -> pool 8 -> ...: the second conv alone is 16*16*64*64*49 = 51M MACs
    costly = RunConfig(
        model=ModelConfig(filters=(64, 64, 64), kernel_sizes=7, strides=1, paddings=3, pool=True),
        data=DataConfig(image_size=32),
    )
    assert "multiply-adds" in architecture_problem(costly) and MAX_MACS < 16 * 16 * 64 * 64 * 49
    assert architecture_problem(RunConfig()) is None  # the handout's starter network


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_to_experiment_search_gives_back_the_trials_of_its_held_workers(art_folder, tmp_path):
    """`experiment search` trains its batch on held worker processes; a SIGTERM to the command alone (a
    scheduler's stop) is passed on, so the batch's trials are given back at once, and no process is left."""
    import signal
    import subprocess

    from cnnlab.core.processes import pid_alive
    from pg_helpers import marks, stop, wait_for, worker_env

    seen = tmp_path / "marks"
    seen.mkdir()
    env = worker_env(tmp_path, CNNLAB_TEST_TRIAL_SLEEP="60", CNNLAB_TEST_MARKS=str(seen))
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "cnnlab", "experiment", "search", "--quick", "--jobs", "2"]
    log = open(tmp_path / "search.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([*cmd, "--data", str(art_folder), "--out", str(out)], env=env, stdout=log, stderr=log)
    try:
        wait_for(lambda: len({pid for pid, _ in marks(seen)}) >= 2, 120, "two held workers to start trials")
        workers = {pid for pid, _ in marks(seen)}
        assert proc.pid not in workers and spawned_children(proc.pid) >= workers  # the command's own workers
        proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        assert proc.wait(timeout=30) == 143
        assert time.monotonic() - t0 < 15  # at once, not after the 60 s trials or a grace period
    finally:
        stop(proc)
        log.close()
    assert "stopped by signal 15" in (tmp_path / "search.log").read_text()
    trials = _raw_trials(f"sqlite:///{out / 'optuna.db'}", "search-quick")
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    given = [t for t in trials if t.user_attrs.get("interrupted") == "stopped by SIGTERM"]
    # the whole batch (the quick search's 3 trials at once, trained on the 2 held workers) is given back
    assert len(given) == 3 and all(t.state == TrialState.FAIL for t in given)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(pid_alive(p) for p in workers):
        time.sleep(0.2)
    assert not [p for p in workers if pid_alive(p)]


def test_a_stop_by_signal_survives_pickling():
    """A held worker's Stopped travels back to the parent pickled (it once failed to unpickle and hung it)."""
    import pickle

    from cnnlab.art.sweep.lifecycle import Stopped

    back = pickle.loads(pickle.dumps(Stopped(15)))
    assert isinstance(back, Stopped) and back.signum == 15 and back.exit_status == 143
