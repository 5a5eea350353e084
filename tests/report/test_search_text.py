"""The 1.6 sentences of the abstract and discussion follow the sign and verdict of their numbers."""

from __future__ import annotations

from cnnlab.report.sections.front import search_outcome


def _row(label: str, test: list[float]) -> dict:
    n = len(test)
    mean = sum(test) / n
    std = (sum((t - mean) ** 2 for t in test) / (n - 1)) ** 0.5
    return {
        "variant": label,
        "n": n,
        "repeats": list(range(n)),
        "per_repeat": {"test_acc": test},
        "test_acc_mean": mean,
        "test_acc_std": std,
    }


STARTER = _row("starter", [0.61, 0.60, 0.62, 0.59, 0.63])


def test_a_search_that_loses_says_it_lost():
    lost = {"rows": [_row("best found", [0.52, 0.50, 0.55, 0.49, 0.53])], "answer": "search"}
    for short in (False, True):
        text = search_outcome(lost, STARTER, short=short)
        assert "falls below" in text and "worse" in text
        assert "trade" not in text and "improves" not in text


def test_a_search_that_wins_or_ties_says_so():
    won = {"rows": [_row("best found", [0.70, 0.69, 0.72, 0.68, 0.71])], "answer": "search"}
    assert "improves on" in search_outcome(won, STARTER) and "better" in search_outcome(won, STARTER)
    tie = {"rows": [_row("best found", [0.62, 0.59, 0.61, 0.60, 0.63])], "answer": "search"}
    assert "not clearly different" in search_outcome(tie, STARTER)


def test_when_the_starter_stays_the_answer_the_text_says_nothing_beat_it():
    kept = {"rows": [STARTER], "answer": "starter"}
    text = search_outcome(kept, STARTER)
    assert "no configuration that beats the starter" in text and "improves" not in text
