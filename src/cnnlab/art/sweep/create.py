"""Making or joining a study: the study's user attributes say what it searches (base config, data, space
version, batch size, the number of trials asked for), and a joining process must run the same search."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from cnnlab.art.config import RunConfig
from cnnlab.art.sweep.batch import ATTR_BATCH
from cnnlab.art.sweep.space import SPACE_VERSION
from cnnlab.art.sweep.worker import ATTR_TRIALS
from cnnlab.core.config import to_dict
from cnnlab.core.errors import CnnlabError, shorten
from cnnlab.core.io import canonical_json

log = logging.getLogger(__name__)

INIT_WAIT = 120.0  # seconds a joining worker waits for the creator to enqueue the trials
ATTR_BASE, ATTR_DATA, ATTR_SPACE = "cnnlab_base", "cnnlab_data_hash", "cnnlab_space"


def init_study(
    store: Any,
    name: str,
    base: RunConfig,
    data_hash: str,
    trials: int,
    batch: int = 0,
    seeds: Sequence[tuple[str, dict]] = (),
) -> int:
    """Create the study (shared: with `trials` WAITING trials; batched: with the `seeds` queued), or join it
    (checking it is the same search)."""
    import optuna

    try:
        study = optuna.create_study(study_name=name, storage=store, direction="maximize", load_if_exists=False)
    except optuna.exceptions.DuplicatedStudyError:
        study = None
    if study is not None:  # this process won the creation: it alone enqueues, so there are exactly N
        study.set_user_attr(ATTR_BASE, to_dict(base))
        study.set_user_attr(ATTR_DATA, data_hash)
        study.set_user_attr(ATTR_SPACE, SPACE_VERSION)
        study.set_user_attr(ATTR_BATCH, batch)
        for label, params in seeds:  # the known starting points first, as trials 0, 1, ...
            study.enqueue_trial(dict(params), user_attrs={"seeded": label})
        for slot in range(0 if batch else trials):  # a batched study asks its trials as it goes
            study.enqueue_trial({}, user_attrs={"slot": slot})
        study.set_user_attr(ATTR_TRIALS, trials)  # last: marks the study initialised
        log.info("created study %r with %d trials", name, trials)
        return trials
    study = optuna.load_study(study_name=name, storage=store)
    deadline = time.monotonic() + INIT_WAIT
    while ATTR_TRIALS not in study.user_attrs:
        if time.monotonic() > deadline:
            raise CnnlabError(
                f"study {name!r} exists but was not made by `cnnlab sweep` (or its creator died); use another --study"
            )
        time.sleep(0.5)
    attrs = study.user_attrs
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise CnnlabError(f"study {name!r} minimises its objective; it is not a cnnlab sweep")
    if attrs.get(ATTR_SPACE) != SPACE_VERSION:
        raise CnnlabError(
            f"study {name!r} used search space v{attrs.get(ATTR_SPACE)}, this cnnlab has v{SPACE_VERSION}; use another --study"
        )
    if attrs.get(ATTR_DATA) != data_hash:
        raise CnnlabError(
            f"study {name!r} was run on other data (hash {attrs.get(ATTR_DATA)}, here {data_hash}); every worker needs the same data"
        )
    diff = _first_difference(attrs.get(ATTR_BASE), to_dict(base))
    if diff is not None:
        raise CnnlabError(
            f"study {name!r} was made with another base config ({diff}); use the same --config/--set/--epochs or another --study"
        )
    if int(attrs.get(ATTR_BATCH, 0)) != batch:
        raise CnnlabError(
            f"study {name!r} was made with --batch {attrs.get(ATTR_BATCH, 0)} (here {batch}); use the same or another --study"
        )
    target = int(attrs[ATTR_TRIALS])
    if trials > target:
        for slot in range(target, 0 if batch else trials):
            study.enqueue_trial({}, user_attrs={"slot": slot})
        study.set_user_attr(ATTR_TRIALS, trials)
        log.info("extended study %r from %d to %d trials", name, target, trials)
        return trials
    if trials < target:
        log.info("study %r holds %d trials; working on the remaining ones", name, target)
    return target


def _first_difference(a: Any, b: Any, key: str = "") -> str | None:
    """'train.epochs: 10 vs 20' for the first leaf where two config dicts differ, else None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            d = _first_difference(a.get(k), b.get(k), f"{key}.{k}" if key else k)
            if d:
                return d
        return None
    return None if canonical_json(a) == canonical_json(b) else f"{key or 'config'}: {shorten(a)} vs {shorten(b)}"
