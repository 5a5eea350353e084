"""1.6: the search's starting points (suites.seeds) and the choice on every fold (suites.choice)."""

from __future__ import annotations

import json

import pytest

from cnnlab.art.config import RunConfig
from cnnlab.art.suites.choice import choose
from cnnlab.art.suites.common import SuiteOptions
from cnnlab.art.suites.definitions import FAIR_BUDGET, OVERFIT_REGIME
from cnnlab.core.config import to_dict
from cnnlab.core.runtime import RuntimeOptions
from cnnlab.core.stats import BETTER


def _row(label: str, val: list[float]) -> dict:
    repeats = list(range(len(val)))
    return {
        "variant": label,
        "val_acc_mean": sum(val) / len(val),
        "repeats": repeats,
        "per_repeat": {"val_acc": val},
    }


def test_the_one_fold_second_best_with_the_best_five_fold_mean_is_picked():
    # one-fold order (repeat 0): trial 7 (0.80) before trial 3 (0.75); over 5 repeats trial 3 is better
    first = _row("trial 7", [0.80, 0.50, 0.52, 0.49, 0.51])
    second = _row("trial 3", [0.75, 0.70, 0.72, 0.69, 0.71])
    third = _row("trial 9", [0.70, 0.60, 0.61, 0.58, 0.62])
    starter = _row("starter", [0.55, 0.54, 0.56, 0.53, 0.55])
    choice = choose([first, second, third], starter)
    assert choice.winner == 1 and choice.search_won and choice.versus_starter.verdict == BETTER


def test_a_winner_that_does_not_beat_the_starter_leaves_the_starter_as_the_answer():
    a = _row("trial 1", [0.60, 0.50, 0.58, 0.52, 0.55])
    starter = _row("starter", [0.56, 0.55, 0.55, 0.54, 0.56])
    choice = choose([a], starter)
    assert choice.winner == 0 and not choice.search_won and choice.answer == "starter"


def _suite_json(root, name, rows, regime, base):
    path = root / "suites" / name
    path.mkdir(parents=True)
    meta = {"rows": rows, "regime": {"overrides": list(regime)}, "base_config": to_dict(base)}
    (path / "suite.json").write_text(json.dumps(meta))


def test_the_seeds_are_the_starter_then_each_suites_best_then_all_together(tmp_path):
    from cnnlab.art.suites.seeds import COMBINED, STARTER, search_seeds

    optuna = pytest.importorskip("optuna")
    from cnnlab.art.sweep.space import suggest_config

    base = RunConfig()
    options = SuiteOptions(runtime=RuntimeOptions(out=str(tmp_path)), base=base)
    row = lambda label, val, overrides="": {"variant": label, "val_acc_mean": val, "overrides": overrides}  # noqa: E731
    _suite_json(
        tmp_path,
        "pooling",
        [row("no pooling", 0.5), row("pool 2/2", 0.6, "model.pool=true model.pool_size=2"), row("pool 3/2", 0.55)],
        FAIR_BUDGET,
        base,
    )
    _suite_json(
        tmp_path,
        "regularization",
        [row("baseline", 0.5), row("dropout 0.5", 0.7, "model.dropout=0.5")],
        OVERFIT_REGIME,
        base,
    )
    _suite_json(
        tmp_path,
        "architecture",
        [row("starter", 0.5), row("kernel 3", 0.65, "model.kernel_sizes=3")],
        FAIR_BUDGET,
        base,
    )
    seeds = search_seeds(options, base, limit=10)
    labels = [label for label, _ in seeds]
    assert labels == [STARTER, "1.3 best: pool 2/2", "1.4 best: dropout 0.5", "1.5 best: kernel 3", COMBINED]
    params = dict(seeds)
    assert params[STARTER]["lr_adam"] == base.train.optimizer.lr and not params[STARTER]["pool"]
    assert params["1.3 best: pool 2/2"]["pool"] and params["1.3 best: pool 2/2"]["lr_adam"] == 0.001  # its budget
    both = params[COMBINED]
    assert both["pool"] and both["dropout"] == 0.5 and both["kernel_1"] == 3
    # every seed is a point of the space: it trains as the configuration it stands for
    config = suggest_config(optuna.trial.FixedTrial(both), base)
    assert config.model.pool and config.model.dropout == 0.5 and config.model.layer_kernels == (3, 3)


def test_the_answer_row_is_not_counted_again_among_the_candidates(monkeypatch):
    """The answer row (label "best found") repeats the winner's numbers, but only the retrained trials are
    candidates: the full report once listed the winner twice ("top 4" of 3) and named it "best found"."""
    import cnnlab.art.suites.choice as choice_mod

    def fake_run_variants(variants, options, bases=None):
        vals = {"reference": [0.55, 0.54, 0.56, 0.53, 0.55]}
        out = []
        for i, v in enumerate(variants):
            val = vals.get(v.group, [0.70 + 0.01 * i, 0.71, 0.72, 0.69, 0.71])
            row = _row(v.label, val)
            row.update(group=v.group, per_repeat={"val_acc": val, "test_acc": val}, test_acc_mean=sum(val) / 5)
            out.append(row)
        return out

    monkeypatch.setattr(choice_mod, "run_variants", fake_run_variants)
    base = RunConfig()
    top = [{"number": n, "value": 0.8 - 0.01 * n, "seeded": None, "config": to_dict(base)} for n in (7, 3, 9)]
    rows, choice, _ = choice_mod.choose_on_every_fold(top, SuiteOptions(runtime=RuntimeOptions()), base)
    candidates = [r for r in rows if "trial" in r]
    assert [r["trial"] for r in candidates] == [7, 3, 9] and choice.search_won
    assert rows[0]["answer"] == candidates[choice.winner]["variant"] and "trial" not in rows[0]
