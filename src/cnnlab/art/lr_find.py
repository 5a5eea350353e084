"""`cnnlab lr-find` for Part 1: the learning-rate range test (cnnlab.core.train.lr_finder) of a RunConfig's network.

The network, data split, optimizer, batch size, augmentation and seed are the config's, exactly as
`cnnlab train` would use them; only the LR schedule is the test's. The suggestion is printed and
written, never applied.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from cnnlab.art.config import RunConfig
from cnnlab.art.models import create_model
from cnnlab.art.run import make_augment, prepare_data
from cnnlab.core.config import to_dict
from cnnlab.core.io import check_out_dir
from cnnlab.core.runtime import DEFAULT_DEVICE
from cnnlab.core.runtime import DEFAULT_OUT as RUNS_OUT
from cnnlab.core.train.lr_finder import LRFindResult, check_range, find_lr, write_lr_find
from cnnlab.core.train.trainer import seed_everything

__all__ = ["lr_find", "DEFAULT_OUT"]

log = logging.getLogger(__name__)

DEFAULT_OUT = RUNS_OUT / "lr_find"  # lr-find writes its files here by default


def lr_find(
    config: RunConfig,
    out: str | Path = DEFAULT_OUT,
    *,
    start: float = 1e-7,
    end: float = 10.0,
    steps: int = 100,
    device: str | torch.device = DEFAULT_DEVICE,
) -> LRFindResult:
    """Range-test `config`'s network on its training split; writes lr_find.csv/.png/.json into `out`."""
    check_range(start, end, steps)  # before loading any data
    check_out_dir(out)
    data = prepare_data(config)
    seed_everything(config.train.seed)  # the same initialisation as a training run of this config
    model = create_model(
        config.model.name,
        num_classes=len(data.dataset.class_names),
        config=config.model,
        image_size=config.data.image_size,
    )
    result = find_lr(
        config.train,
        model,
        data.train,
        data.val,
        start=start,
        end=end,
        steps=steps,
        augment=make_augment(config),
        device=device,
    )
    result.meta = {
        "config": to_dict(config),
        "data": {k: data.info[k] for k in ("name", "hash", "synthetic", "n_train")},
        "configured_lr": config.train.optimizer.lr,
    }
    label = f"{data.info['name']}{' (synthetic)' if data.info['synthetic'] else ''}"
    write_lr_find(result, out, title=f"LR range test, {config.model.name} on {label}: {result.stop_reason}")
    log.info("wrote %s", out)
    return result
