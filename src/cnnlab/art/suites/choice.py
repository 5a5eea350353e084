"""1.6: choose on every fold, not one.

The search scores each trial on one repeat's validation split (fast, but noisy: about 77 images on the
real-photo folder). Its TOP_K trials by that score are retrained on every repeat, beside the starter
network at the search's budget; the winner is the candidate with the best mean validation accuracy. It
is the 1.6 answer only if it beats the starter on paired validation accuracy (the verdict rule of
cnnlab.core.stats); otherwise the starter is, and the report says so. The test split is read only for
the final numbers of the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cnnlab.art.config import RunConfig
from cnnlab.art.suites import labels
from cnnlab.art.suites.common import SuiteOptions, Variant, paired_columns, run_variants
from cnnlab.core.config import from_dict
from cnnlab.core.errors import CnnlabError
from cnnlab.core.stats import BETTER, Comparison, compare_records

TOP_K = 3  # candidates retrained on every repeat
CANDIDATE = "search candidate"  # their group
STARTER_AT_BUDGET = "starter (search budget)"


def candidate_label(number: int) -> str:
    return f"trial {number}"


@dataclass(frozen=True)
class Choice:
    """The outcome of the rule: the winner among the candidates, how it compares with the starter, the answer."""

    winner: int  # index into the candidates
    versus_starter: Comparison  # winner minus starter, validation accuracy, paired
    answer: str  # "search" (the winner beats the starter) or "starter"

    @property
    def search_won(self) -> bool:
        return self.answer == "search"


def choose(candidates: Sequence[dict], starter: dict) -> Choice:
    """The candidate row with the best mean validation accuracy (ties: the better one-fold rank, i.e. the
    earlier row), and whether it beats the `starter` row on paired validation accuracy."""
    winner = max(range(len(candidates)), key=lambda i: (candidates[i]["val_acc_mean"], -i))
    c = compare_records(candidates[winner], starter, "val_acc")
    return Choice(winner, c, "search" if c.verdict == BETTER else "starter")


def choose_on_every_fold(
    top: Sequence[dict], options: SuiteOptions, base: RunConfig
) -> tuple[list[dict], Choice, RunConfig]:
    """Retrain the starter (at `base`'s budget) and the first TOP_K of `top` (a SweepResult's trials: number,
    value, seeded, config) on every repeat; rows: the answer (label BEST_FOUND) first, then the starter and
    the candidates in one-fold order, each with its paired difference from the starter. Returns the rows,
    the choice and the answer's configuration (what 1.7 uses)."""
    picked = list(top[:TOP_K])
    if not picked:
        raise CnnlabError("the search has no complete trial with a recorded configuration to retrain")
    configs = [base] + [_with_data(from_dict(RunConfig, t["config"]), base) for t in picked]
    variants = [Variant(STARTER_AT_BUDGET, "reference")]
    variants += [Variant(candidate_label(t["number"]), CANDIDATE) for t in picked]
    rows = run_variants(variants, options, bases=configs)
    for row, t in zip(rows[1:], picked):
        row.update(trial=t["number"], one_fold_val_acc=t["value"], seeded=t.get("seeded"))
    starter, candidates = rows[0], rows[1:]
    choice = choose(candidates, starter)
    chosen = candidates[choice.winner] if choice.search_won else starter
    # the answer row repeats the chosen row's numbers under its own label; it is no candidate itself (no "trial")
    answer = {k: v for k, v in chosen.items() if k not in ("trial", "one_fold_val_acc", "seeded")}
    answer.update(variant=labels.BEST_FOUND, group="search", answer=chosen["variant"])
    out = [answer, *rows]
    paired_columns(out, starter)
    return out, choice, configs[1 + choice.winner] if choice.search_won else base


def _with_data(config: RunConfig, base: RunConfig) -> RunConfig:
    """A trial's config on this suite's data (a study read from a storage may record another path)."""
    import dataclasses

    return dataclasses.replace(config, data=base.data)
