"""Batched sweeps (sweep.batch): the same study for any number of workers; pruning against earlier batches."""

from __future__ import annotations

import pytest

from cnnlab.art.config import DataConfig, RunConfig
from cnnlab.art.sweep.batch import BATCH, PruneRule, replay
from cnnlab.art.sweep.study import run_sweep
from cnnlab.core.train.config import TrainConfig

optuna = pytest.importorskip("optuna")


@pytest.fixture
def base(art_folder):
    return RunConfig(
        data=DataConfig(name=str(art_folder), image_size=16, test_fraction=0.25, folds=3), train=TrainConfig(epochs=3)
    )


def _study(storage: str, name: str = "s") -> list[tuple]:
    """Every trial as (number, state, params, value, curve, invalid reason): what must not depend on workers."""
    from cnnlab.art.sweep.storage import open_storage

    study = optuna.load_study(study_name=name, storage=open_storage(storage, heartbeat=False))
    return [
        (t.number, t.state.name, t.params, t.value, dict(t.intermediate_values), t.user_attrs.get("invalid"))
        for t in study.get_trials(deepcopy=False)
    ]


@pytest.mark.slow
def test_one_and_three_workers_give_the_identical_study(base, tmp_path, monkeypatch):
    import cnnlab.art.sweep.batch as batch_mod
    import cnnlab.art.sweep.worker as worker_mod

    # TPE from the second batch on and pruning from the third, so both depend on earlier batches here
    monkeypatch.setattr(worker_mod, "N_STARTUP", 4)
    monkeypatch.setattr(batch_mod, "PRUNE_STARTUP", 2)
    studies = {}
    for workers in (1, 3):
        storage = f"sqlite:///{tmp_path / f'w{workers}.db'}"
        out = tmp_path / f"runs{workers}"  # fresh run folders: nothing is reused from the other study
        result = run_sweep(
            study_name="s", storage=storage, trials=10, workers=workers, base=base, out_root=out, seed=3, batch=3
        )
        assert result.n_finished == 10 and result.n_running == result.n_waiting == 0
        studies[workers] = _study(storage)
    assert studies[1] == studies[3]
    states = {t[1] for t in studies[1]}
    assert {"COMPLETE", "PRUNED"} <= states, states
    assert len({tuple(sorted(t[2].items())) for t in studies[1]}) == len(studies[1])  # every trial drew its own


def test_enqueued_seeds_are_the_first_trials(base, tmp_path):
    seeds = [
        ("one", {"n_conv": 1, "filters_1": 8, "kernel_1": 3, "stride_1": 1, "padding": "same", "pool": True}),
        ("two", {"n_conv": 2, "filters_1": 16, "filters_2": 16, "kernel_1": 5, "kernel_2": 5, "stride_1": 1}),
    ]
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    result = run_sweep(
        study_name="s", storage=storage, trials=3, base=base, out_root=tmp_path / "runs", seeds=seeds, prune=False
    )
    trials = _study(storage)
    assert len(trials) == 3
    for (_, params), t in zip(seeds, trials[:2]):
        assert {k: t[2][k] for k in params} == params
    assert [r["seeded"] for r in result.trials] == ["one", "two", None]


def test_the_prune_rule_compares_with_the_median_of_earlier_trials():
    rule = PruneRule(startup=3, warmup=2, interval=2)
    curves = [{1: 0.1, 2: 0.5, 4: 0.6}, {1: 0.2, 2: 0.6, 4: 0.7}, {1: 0.3, 2: 0.7, 4: 0.8}]
    assert not rule.prunes(0.0, 1, curves)  # warm-up
    assert rule.prunes(0.55, 2, curves) and not rule.prunes(0.6, 2, curves)  # median 0.6 at epoch 2
    assert not rule.prunes(0.0, 3, curves)  # off the interval
    assert not rule.prunes(0.0, 2, curves[:2])  # fewer than `startup` earlier trials
    # the best value so far counts, as in Optuna's MedianPruner
    assert replay(rule, {1: 0.9, 2: 0.4, 3: 0.4, 4: 0.4}, curves) is None
    assert replay(rule, {1: 0.1, 2: 0.4}, curves) == 2


def test_the_cli_default_batch_is_the_library_one():
    from cnnlab.cli import sweep

    assert sweep.BATCH == BATCH


@pytest.mark.parametrize("size", [50, 28])
def test_no_invalid_trial_in_500_draws(size):
    """The space is fitted to the image size: every random draw trains (sweep.space.fit_architecture)."""
    from cnnlab.art.models import SimpleCNN
    from cnnlab.art.sweep.space import LR_RANGES, architecture_problem, suggest_config

    base = RunConfig(data=DataConfig(image_size=size))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=size), direction="maximize")
    fitted = 0
    for i in range(500):
        trial = study.ask()
        config = suggest_config(trial, base)  # would raise optuna.TrialPruned for an invalid draw
        assert architecture_problem(config) is None
        fitted += "fitted" in trial.user_attrs
        opt = config.train.optimizer
        assert LR_RANGES[opt.name][0] <= opt.lr <= LR_RANGES[opt.name][1]
        if i < 20:
            SimpleCNN(config.model, num_classes=11, image_size=size)  # builds
        study.tell(trial, 0.5)
    assert fitted  # some draws needed fitting, so the test exercised it


def test_a_study_keeps_its_mode_and_a_bad_batch_is_one_line(base, tmp_path, capsys):
    from cnnlab.cli.app import main
    from cnnlab.core.errors import CnnlabError

    journal = str(tmp_path / "study.log")
    run_sweep(study_name="s", storage=journal, trials=1, base=base, out_root=tmp_path / "runs", batch=0)
    with pytest.raises(CnnlabError, match="made with --batch 0 \\(here 4\\)"):
        run_sweep(study_name="s", storage=journal, trials=1, base=base, out_root=tmp_path / "runs")
    assert main(["sweep", "--trials", "2", "--batch", "-1", "--out", str(tmp_path / "cli")]) == 2
    err = capsys.readouterr().err
    assert "--batch must be a non-negative integer" in err and err.count("\n") == 1
