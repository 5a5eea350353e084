"""cnnlab.core.stats: summaries of repeated runs and the one verdict rule, on constructed numbers."""

from __future__ import annotations

import math
import statistics

import pytest

from cnnlab.core.errors import CnnlabError
from cnnlab.core.stats import (
    BETTER,
    CONFIDENCE,
    NO_CLEAR_DIFFERENCE,
    NO_EFFECT,
    SINGLE_REPEAT,
    VERDICT_RULE,
    WORSE,
    Summary,
    aggregate,
    compare,
    compare_records,
    format_comparison,
    format_mean_std,
    format_record,
    mean_curves,
    summarize,
    summary_of,
    t_quantile,
)


def test_summarize_gives_mean_sample_std_and_standard_error():
    s = summarize([0.5, 0.6, 0.7])
    assert s.n == 3 and s.mean == pytest.approx(0.6) and s.std == pytest.approx(0.1)  # sample std (n - 1)
    assert s.se == pytest.approx(0.1 / math.sqrt(3))
    one = summarize([0.42])
    assert one == Summary(0.42, 0.0, 1) and one.se == 0.0
    with pytest.raises(ValueError):
        summarize([])


def test_aggregate_keeps_keys_present_in_every_record():
    records = [{"acc": 0.5, "loss": 1.0, "extra": 3.0}, {"acc": 0.7, "loss": 2.0}]
    out = aggregate(records, ("acc", "loss", "extra", "absent"))
    assert out["n"] == 2
    assert out["acc_mean"] == pytest.approx(0.6) and out["acc_std"] == pytest.approx(statistics.stdev([0.5, 0.7]))
    assert out["loss_mean"] == pytest.approx(1.5)
    assert "extra_mean" not in out and "absent_mean" not in out
    assert summary_of(out, "acc") == Summary(out["acc_mean"], out["acc_std"], 2)
    assert summary_of({"acc_mean": 0.3, "n": 1}, "acc") == Summary(0.3, 0.0, 1)  # a missing std is 0


def _row(variant: str, values: list[float], repeats: list[int] | None = None, **other: list[float]) -> dict:
    """A suite row with per-repeat values of val_acc (and any other key), as suites write them."""
    repeats = list(range(len(values))) if repeats is None else repeats
    per = {"val_acc": values, **other}
    row = {
        "variant": variant,
        "group": "g",
        "repeats": repeats,
        "per_repeat": per,
        **aggregate([{k: v[i] for k, v in per.items()} for i in range(len(values))], list(per)),
    }
    return row


def test_a_consistent_small_paired_difference_is_better_where_an_unpaired_test_sees_nothing():
    # The repeats differ a lot (folds of different difficulty); the variant is 2-3 points better in every one.
    ref = [0.50, 0.62, 0.71, 0.55, 0.66]
    var = [r + d for r, d in zip(ref, [0.02, 0.03, 0.02, 0.025, 0.03])]
    c = compare(var, ref)
    assert c.verdict == BETTER and c.n == 5 and c.diff == pytest.approx(0.025)
    d = [a - b for a, b in zip(var, ref)]
    assert c.se == pytest.approx(statistics.stdev(d) / math.sqrt(5))
    assert (
        c.low == pytest.approx(0.025 - t_quantile(5) * c.se)
        and c.high == pytest.approx(0.025 + t_quantile(5) * c.se)
        and c.low > 0
    )
    # an unpaired look at the same numbers: the difference of means is far inside 2 standard errors
    sa, sb = summarize(var), summarize(ref)
    assert abs(sa.mean - sb.mean) < 2 * math.sqrt(sa.se**2 + sb.se**2)
    back = compare(ref, var)
    assert back.verdict == WORSE and back.diff == pytest.approx(-0.025) and back.se == pytest.approx(c.se)


def test_a_noisy_paired_difference_is_no_clear_difference():
    ref = [0.50, 0.62, 0.71, 0.55, 0.66]
    var = [r + d for r, d in zip(ref, [0.08, -0.06, 0.05, -0.04, 0.03])]  # mean +0.012, but the sign flips
    c = compare(var, ref)
    assert c.verdict == NO_CLEAR_DIFFERENCE and c.low < 0 < c.high and c.has_error_bar


def test_the_interval_is_the_student_t_one_at_95_percent():
    assert CONFIDENCE == 0.95
    assert t_quantile(2) == pytest.approx(12.7062, rel=1e-4) and t_quantile(5) == pytest.approx(2.7764, rel=1e-4)
    # two repeats, differences 1 and 3: mean 2, SE 1, interval 2 +- 12.71: no clear difference
    c = compare([1.0, 3.0], [0.0, 0.0])
    assert (c.diff, c.se, c.verdict) == (2.0, 1.0, NO_CLEAR_DIFFERENCE) and c.margin == pytest.approx(12.7062, rel=1e-4)
    # the same mean from five differences with SE 0.2: interval 2 +- 0.56 excludes 0
    assert (
        compare([2.0 + e for e in (-0.4, 0.4, 0.0, -0.2 * math.sqrt(2.5), 0.2 * math.sqrt(2.5))], [0.0] * 5).verdict
        == BETTER
    )
    # equal non-zero differences have SE 0: the interval is a point away from 0
    assert compare([0.6, 0.7, 0.8], [0.5, 0.6, 0.7]).verdict == BETTER


def test_a_single_repeat_never_gets_a_verdict():
    c = compare([0.9], [0.1])
    assert c.verdict == SINGLE_REPEAT and not c.has_error_bar and c.diff == pytest.approx(0.8) and c.n == 1
    assert math.isnan(c.se) and format_comparison(c) == "+0.800 (n=1, single repeat)"


def test_identical_numbers_are_flagged_no_effect():
    ref = [0.5, 0.6, 0.7]
    assert compare(list(ref), ref).verdict == NO_EFFECT and compare([0.5], [0.5]).verdict == NO_EFFECT
    # equal validation accuracy alone is not "no effect" when another recorded number differs
    a = _row("a", ref, train_acc=[0.9, 0.9, 0.9])
    b = _row("b", list(ref), train_acc=[0.9, 0.9, 0.8])
    assert compare_records(a, b).verdict == NO_CLEAR_DIFFERENCE
    assert compare_records(a, _row("c", list(ref), train_acc=[0.9, 0.9, 0.9])).verdict == NO_EFFECT


def test_the_rule_is_stated_once():
    for word in (
        BETTER,
        WORSE,
        NO_CLEAR_DIFFERENCE,
        SINGLE_REPEAT,
        NO_EFFECT,
        "paired",
        "95%",
        "t(0.975, n - 1)",
        "excludes 0",
    ):
        assert word in VERDICT_RULE


def test_compare_records_pairs_values_by_repeat():
    row = _row("a", [0.72, 0.52, 0.62], repeats=[2, 0, 1])  # the same repeats in another order: +0.02 in each
    base = _row("b", [0.50, 0.60, 0.70])
    c = compare_records(row, base)
    assert c == compare([0.52, 0.62, 0.72], [0.50, 0.60, 0.70]) and c.verdict == BETTER
    assert (
        compare([0.72, 0.52, 0.62], [0.50, 0.60, 0.70]).verdict == NO_CLEAR_DIFFERENCE
    )  # paired by position it would be noise
    with pytest.raises(CnnlabError, match="ran different repeats"):
        compare_records(_row("a", [0.6, 0.7], repeats=[0, 5]), _row("b", [0.5, 0.6]))
    with pytest.raises(CnnlabError, match="no per-repeat val_acc"):
        compare_records({"variant": "old", "n": 3, "val_acc_mean": 0.5}, base)


def test_mean_curves_truncate_to_the_shortest_run():
    h1 = [
        {"epoch": 1, "acc": 0.2, "loss": 2.0},
        {"epoch": 2, "acc": 0.4, "loss": 1.0},
        {"epoch": 3, "acc": 0.9, "loss": 0.5},
    ]
    h2 = [{"epoch": 1, "acc": 0.4}, {"epoch": 2, "acc": 0.6}]
    out = mean_curves([h1, h2], ("acc", "loss"))
    assert out["epoch"] == [1.0, 2.0]
    assert out["acc_mean"] == pytest.approx([0.3, 0.5])
    assert out["acc_std"] == pytest.approx([statistics.stdev([0.2, 0.4]), statistics.stdev([0.4, 0.6])])
    assert "loss_mean" not in out  # not recorded by every run
    single = mean_curves([h1], ("acc",))
    assert single["acc_std"] == [0.0, 0.0, 0.0] and single["acc_mean"] == [0.2, 0.4, 0.9]


def test_formatting():
    assert format_mean_std(0.6071, 0.0089, 3) == "0.607 ± 0.009 (n=3)"
    assert format_record({"acc_mean": 0.5, "acc_std": 0.25, "n": 2}, "acc", digits=2) == "0.50 ± 0.25 (n=2)"


def test_suite_findings_report_text_and_plots_share_the_verdict():
    """Suite findings, the report's sentences and its table cells all answer with core.stats.compare_records."""
    from cnnlab.art.suites.common import compare as suite_findings
    from cnnlab.report.compare import change, delta_cell

    base = _row("ref", [0.50, 0.62, 0.71, 0.55, 0.66])
    base["group"] = "baseline"
    close = _row("close", [0.58, 0.56, 0.76, 0.51, 0.69])
    close["group"] = "g1"
    far = _row("far", [v + 0.1 for v in base["per_repeat"]["val_acc"]])
    far["group"] = "g2"
    same = _row("same", list(base["per_repeat"]["val_acc"]))
    same["group"] = "g3"
    findings = suite_findings([base, close, far, same], base)
    assert f"{NO_CLEAR_DIFFERENCE})" in findings[0] and f"{BETTER})" in findings[1] and f"{NO_EFFECT})" in findings[2]
    assert format_comparison(compare_records(far, base)) in findings[1]
    assert any(f.startswith(NO_EFFECT) and "same" in f for f in findings) and "largest gain: g2 (far" in findings[-1]
    c = compare_records(close, base)
    assert (
        change(close, base) == f"{100 * c.diff:+.1f}\\,$\\pm$\\,{100 * c.se:.1f} points ($n=5$, {NO_CLEAR_DIFFERENCE})"
    )
    assert delta_cell(far, base).startswith("\\textbf{+10.0") and not delta_cell(close, base).startswith("\\textbf")
    assert delta_cell(same, base) == "no effect" and delta_cell(base, base) == ""
    one_a, one_b = _row("one", [0.7]), _row("ref1", [0.5])
    assert change(one_a, one_b) == f"+20.0 points ({SINGLE_REPEAT})"
