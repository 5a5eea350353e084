"""cnnlab.core.stats: summaries of repeated runs and the one verdict rule, on constructed numbers."""

from __future__ import annotations

import math
import statistics

import pytest

from cnnlab.core.stats import (
    BETTER,
    NOISE_SE,
    SINGLE_SEED,
    VERDICT_RULE,
    WITHIN_NOISE,
    WORSE,
    Summary,
    aggregate,
    compare,
    compare_records,
    format_mean_std,
    format_record,
    mean_curves,
    summarize,
    summary_of,
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


def test_clear_difference_is_better_or_worse():
    a, b = Summary(0.80, 0.01, 3), Summary(0.50, 0.01, 3)
    c = compare(a, b)
    assert c.verdict == BETTER and c.diff == pytest.approx(0.30)
    assert c.se == pytest.approx(math.sqrt(2 * 0.01**2 / 3)) and c.margin == pytest.approx(NOISE_SE * c.se)
    assert c.has_error_bar
    back = compare(b, a)
    assert back.verdict == WORSE and back.diff == pytest.approx(-0.30) and back.se == pytest.approx(c.se)


def test_overlapping_spread_is_within_noise():
    c = compare(Summary(0.52, 0.05, 3), Summary(0.50, 0.05, 3))
    assert c.verdict == WITHIN_NOISE and abs(c.diff) < c.margin


def test_verdict_needs_more_than_two_standard_errors():
    # std 1 and n = 2 on both sides: the standard error of the difference is exactly 1.
    b = Summary(0.0, 1.0, 2)
    assert compare(b, b).se == 1.0
    assert compare(Summary(NOISE_SE, 1.0, 2), b).verdict == WITHIN_NOISE  # exactly at the margin: not beyond it
    assert compare(Summary(NOISE_SE + 0.01, 1.0, 2), b).verdict == BETTER
    assert compare(Summary(-NOISE_SE - 0.01, 1.0, 2), b).verdict == WORSE


def test_a_single_seed_never_gets_a_verdict():
    c = compare(Summary(0.9, 0.0, 1), Summary(0.1, 0.05, 3))
    assert c.verdict == SINGLE_SEED and not c.has_error_bar and c.diff == pytest.approx(0.8)
    assert compare(Summary(0.9, 0.01, 3), Summary(0.1, 0.0, 1)).verdict == SINGLE_SEED


def test_the_rule_is_stated_once():
    for word in (BETTER, WORSE, WITHIN_NOISE, SINGLE_SEED, f"{NOISE_SE:g} standard errors", "unpaired"):
        assert word in VERDICT_RULE


def test_compare_records_reads_suite_rows():
    row = {"variant": "a", "n": 3, "val_acc_mean": 0.8, "val_acc_std": 0.01, "test_acc_mean": 0.5, "test_acc_std": 0.2}
    base = {"variant": "b", "n": 3, "val_acc_mean": 0.5, "val_acc_std": 0.01, "test_acc_mean": 0.45, "test_acc_std": 0.2}
    assert compare_records(row, base) == compare(Summary(0.8, 0.01, 3), Summary(0.5, 0.01, 3))
    assert compare_records(row, base, "test_acc").verdict == WITHIN_NOISE


def test_mean_curves_truncate_to_the_shortest_run():
    h1 = [{"epoch": 1, "acc": 0.2, "loss": 2.0}, {"epoch": 2, "acc": 0.4, "loss": 1.0}, {"epoch": 3, "acc": 0.9, "loss": 0.5}]
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
    """The three former copies of the rule now all answer with core.stats.compare."""
    from cnnlab.art.suites.common import compare as suite_findings
    from cnnlab.report.compare import change

    base = {"group": "baseline", "variant": "ref", "n": 3, "val_acc_mean": 0.50, "val_acc_std": 0.05}
    close = {"group": "g1", "variant": "close", "n": 3, "val_acc_mean": 0.52, "val_acc_std": 0.05}
    far = {"group": "g2", "variant": "far", "n": 3, "val_acc_mean": 0.70, "val_acc_std": 0.01}
    findings = suite_findings([base, close, far], base)
    assert f"({WITHIN_NOISE};" in findings[0] and f"({BETTER};" in findings[1] and "most effective: g2" in findings[2]
    assert f"{compare_records(far, base).margin:.3f}" in findings[1]
    assert change(close, base).endswith(f"({WITHIN_NOISE}, 2\\,SE {100 * compare_records(close, base).margin:.1f})")
    one = {**far, "n": 1}
    assert change(one, base) == f"+20.0 points ({SINGLE_SEED})"
