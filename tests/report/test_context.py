"""The report context (issue 27, item 5): frozen dataclasses per part, read from a runs folder; the Part 2 groups
named from the kind and WEIGHT_STUDY_HIDDEN, each a RunGroup of its seeds in the manifest's order."""

from __future__ import annotations

import dataclasses
import json

import pytest
from report_fixture import make_fixture_runs

from cnnlab.faces.run_configs import WEIGHT_STUDY_HIDDEN
from cnnlab.report.context import MAIN_MLP, PART2_GROUPS, ReportContext, RunGroup, load_context, mlp_group


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return make_fixture_runs(tmp_path_factory.mktemp("fixture") / "runs", seeds=3)


def test_the_context_is_frozen_dataclasses_per_part(runs):
    ctx = load_context(runs)
    assert isinstance(ctx, ReportContext) and ctx.placement is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.quick = True  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.part2.finetune = ctx.part2.features  # type: ignore[misc]
    assert set(ctx.part1.suites) >= {"baseline", "search", "robustness"} and ctx.part1.synthetic
    assert not ctx.part2.pretrained and ctx.repeats == ctx.seeds == 3 and ctx.devices == ("cpu",)


def test_part2_groups_are_named_from_the_kind_and_the_hidden_sizes(runs):
    ctx = load_context(runs)
    manifest = json.loads((runs / "report-assets" / "manifest.json").read_text())["part2"]
    names = [mlp_group(h) for h in WEIGHT_STUDY_HIDDEN]
    assert list(ctx.part2.groups) == list(PART2_GROUPS) == [*names, "cnn", "features", "finetune"]
    assert set(ctx.part2.mlp) == set(WEIGHT_STUDY_HIDDEN) and MAIN_MLP == WEIGHT_STUDY_HIDDEN[0]
    for h in WEIGHT_STUDY_HIDDEN:  # the manifest keys its MLPs by the hidden size as a string
        assert ctx.part2.mlp[h].run_ids == tuple(manifest["mlp"][str(h)])
    assert (
        ctx.part2.main_mlp is ctx.part2.mlp[MAIN_MLP] and ctx.part2.wide_mlp is ctx.part2.mlp[WEIGHT_STUDY_HIDDEN[-1]]
    )
    assert ctx.part2.finetune.run_ids == tuple(manifest["finetune"])


def test_a_run_group_aggregates_its_seeds(runs):
    part2 = load_context(runs).part2
    g = part2.finetune
    assert isinstance(g, RunGroup) and g.n == 3 and len(g.run_ids) == 3
    # the fixture's test accuracies are 0.78, 0.79, 0.80 by seed, and its 2.2 starting points 0.01 lower
    assert g.per_seed["test_acc"] == pytest.approx([0.78, 0.79, 0.80])
    assert g.mean("test_acc") == pytest.approx(0.79) and g.stats["test_acc_std"] == pytest.approx(0.01)
    assert g.start is not None and g.start["test_acc_mean"] == pytest.approx(0.78)
    assert g.gains["test_acc"] == pytest.approx([0.01] * 3) and g.best_epochs == (0, 1, 0)
    assert part2.features.start is None and part2.features.gains == {}
    assert g.summary["freeze"] == "from-features" and g.config["train"]["optimizer"]["name"] == "adam"
    assert "test_acc_mean" in g.curve and len(g.curve["epoch"]) == 8


def test_indexing_the_context_as_the_old_dict_is_deprecated(runs):
    ctx = load_context(runs)
    with pytest.warns(DeprecationWarning, match="read its attributes"):
        assert ctx["quick"] is ctx.quick and ctx["devices"] == ["cpu"]
    with pytest.warns(DeprecationWarning):
        old = ctx["part2"]
    assert old[mlp_group(MAIN_MLP)]["test_acc_mean"] == ctx.part2.main_mlp.mean("test_acc")
    assert old["finetune"]["start"] == ctx.part2.finetune.start and "start" not in old["features"]
    with pytest.warns(DeprecationWarning):
        assert ctx["alexnet"] == ctx.part2.alexnet and ctx["curves"]["baseline"] == ctx.part1.baseline_curve
