"""The 1.6 search's starting points: what 1.3-1.5 already learned, queued as the search's first trials.

The starter network (at the search's budget), the best variant by mean validation accuracy of each
single-change suite (1.3 pooling, 1.4 regularisation, 1.5 architecture) at its own suite's budget, and the
three changes together, each mapped onto the search space (`sweep.space.config_params`: the nearest choice
of every parameter). A suite that has not run (or ran on other data) gives no seed.
"""

from __future__ import annotations

import logging
import os

from cnnlab.art.config import RunConfig
from cnnlab.art.suites.common import SuiteOptions, with_overrides
from cnnlab.core import readback

log = logging.getLogger(__name__)

SEED_SUITES = (("pooling", "1.3"), ("regularization", "1.4"), ("architecture", "1.5"))
STARTER = "starter network"
COMBINED = "1.3-1.5 best together"


def best_variant(meta: dict) -> dict | None:
    """The row of a suite's suite.json with the best mean validation accuracy, its reference (first row) excluded."""
    rows = meta.get("rows") or []
    return max(rows[1:], key=lambda r: (r.get("val_acc_mean", float("-inf")), -rows.index(r)), default=None)


def seed_configs(options: SuiteOptions, base: RunConfig) -> list[tuple[str, RunConfig]]:
    """(label, config) of every starting point, the starter first; `base` is the search's base config."""
    seeds = [(STARTER, base)]
    picked: list[tuple[str, list[str]]] = []
    for name, question in SEED_SUITES:
        path = options.suite_root / name / "suite.json"
        if not os.path.lexists(path):  # not run; anything else there is read as untrusted (a warning if damaged)
            continue
        try:
            meta = readback.load_json(path, f"suite result {path}")
            row = best_variant(meta)
            if row is None or meta.get("base_config", {}).get("data") != _data_dict(options.base):
                continue
            regime = list((meta.get("regime") or {}).get("overrides") or [])
            overrides = str(row.get("overrides") or "").split()
            config = with_overrides(with_overrides(base, regime), overrides)
        except (OSError, ValueError, KeyError, TypeError) as exc:  # a damaged suite.json: no seed from it
            log.warning("no search seed from %s: %s", path, exc)
            continue
        seeds.append((f"{question} best: {row['variant']}", config))
        picked.append((row["variant"], regime + overrides))
    if len(picked) > 1:
        # The regularisation suite's rate and optimizer win over the 1.3/1.5 budget's (it is applied last there).
        order = sorted(picked, key=lambda p: any("optimizer" in o for o in p[1]))
        config = base
        for _, overrides in order:
            config = with_overrides(config, overrides)
        seeds.append((COMBINED, config))
    return seeds


def search_seeds(options: SuiteOptions, base: RunConfig, limit: int) -> list[tuple[str, dict]]:
    """(label, search-space parameters) of the first `limit` distinct starting points."""
    from cnnlab.art.sweep.space import config_params

    out: list[tuple[str, dict]] = []
    for label, config in seed_configs(options, base):
        params = config_params(config)
        if all(params != p for _, p in out):
            out.append((label, params))
    return out[:limit]


def _data_dict(config: RunConfig) -> dict:
    from cnnlab.core.config import to_dict

    return to_dict(config)["data"]
