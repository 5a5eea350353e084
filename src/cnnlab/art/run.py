"""Part 1 runs: one seeded training run of a SimpleCNN config on the art data, cached by content.

`train_run` is what `cnnlab train` calls and what every experiment suite and sweep trial builds on:
load the data (decoded tensors cached on disk), split it deterministically, train through the one
`Trainer`, evaluate the held-out test split once for the final numbers, and write the run folder.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cnnlab.art.config import RunConfig
from cnnlab.art.models import count_parameters, create_model, describe_layers
from cnnlab.core.config import to_dict
from cnnlab.core.device import device_name, resolve_device
from cnnlab.core.io import check_out_dir
from cnnlab.core.plotting import draw_safely
from cnnlab.core.runs.cached import RunSpec, run_cached
from cnnlab.core.runs.folders import RunDir, RunResult
from cnnlab.core.runtime import DEFAULT_DEVICE, DEFAULT_OUT
from cnnlab.core.train.callbacks import Callback
from cnnlab.core.train.trainer import FitResult, Trainer

log = logging.getLogger(__name__)

RUN_KIND = "cnn"


@dataclass(frozen=True)
class PreparedData:
    """Art data loaded and split once, shared by many runs of one suite."""

    dataset: Any  # cnnlab.art.data.ImageDataset
    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]

    @property
    def splits(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """{"train": (x, y), "val": ..., "test": ...}: x (N, 3, H, W) in [-0.5, 0.5], y (N,) int64."""
        return {"train": self.train, "val": self.val, "test": self.test}

    @property
    def info(self) -> dict:
        ds = self.dataset
        return {
            "name": ds.name,
            "hash": ds.data_hash,
            "synthetic": ds.synthetic,
            "classes": list(ds.class_names),
            "n_images": int(len(ds.labels)),
            "n_train": int(len(self.train[1])),
            "n_val": int(len(self.val[1])),
            "n_test": int(len(self.test[1])),
            "skipped_files": [list(s) for s in ds.skipped],
        }


def prepare_data(config: RunConfig, cache_dir: str | Path | None = None) -> PreparedData:
    """Load the art data named by config.data and split it: the fixed test split and fold data.fold as validation;
    grayscale when data.grayscale."""
    from cnnlab.art.data import load_art_data, stratified_split

    dc = config.data
    ds = load_art_data(dc.name, image_size=dc.image_size, cache_dir=cache_dir)
    split = stratified_split(
        ds.labels, test_fraction=dc.test_fraction, folds=dc.folds, fold=dc.fold, seed=dc.split_seed
    )
    images = ds.images
    if dc.grayscale:
        from cnnlab.art.transforms import grayscale

        images = grayscale(images)
    pick = lambda idx: (images[idx], ds.labels[idx])  # noqa: E731
    return PreparedData(ds, pick(split.train), pick(split.val), pick(split.test))


def make_augment(config: RunConfig) -> Callable | None:
    """The training-time batch augmentation of config.augment, or None when it is off."""
    if not config.augment.enabled:
        return None
    from cnnlab.art.transforms import random_augment

    aug = config.augment
    return lambda x, gen: random_augment(x, aug, gen)


def load_run_model(run_path: str | Path, which: str | None = None) -> torch.nn.Module:
    """Rebuild a finished run's model with its reported weights ("best" or "final"), in eval mode.

    A damaged or foreign run folder is a one-line DataError naming it: its config, class names and
    weights are checked (the weights' shapes against the rebuilt model) before anything is loaded.
    """
    from cnnlab.core.config import from_dict
    from cnnlab.core.errors import ConfigError, DataError, first_line
    from cnnlab.core.runs.folders import read_run
    from cnnlab.core.runs.state_dicts import load_weights, state_dict_problem

    record = read_run(run_path)
    run_path = record.path
    data = record.meta.get("data")
    classes = data.get("classes") if isinstance(data, dict) else None
    if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
        raise DataError(f"run folder {run_path}: config.json lists no class names")
    try:
        config = from_dict(RunConfig, record.meta.get("config"))
        which = which or record.summary.get("reported_model", "best")
        if which not in ("best", "final"):
            raise DataError(f"run folder {run_path}: unknown model {str(which)[:40]!r} (best or final)")
        model = create_model(
            config.model.name, num_classes=len(classes), config=config.model, image_size=config.data.image_size
        )
    except ConfigError as exc:
        raise DataError(f"run folder {run_path} has an invalid config: {exc}") from None
    weights = run_path / f"{which}.pt"
    if not weights.is_file():
        raise DataError(f"run folder {run_path} has no {which}.pt")
    try:
        state = load_weights(weights)
    except Exception as exc:  # noqa: BLE001 - a truncated or foreign file: one line
        raise DataError(f"cannot read {weights}: {first_line(exc, 120, with_type=True)}") from None
    problem = state_dict_problem(model.state_dict(), state)
    if problem is not None:
        raise DataError(f"run folder {run_path}: {which}.pt does not match its model: {problem}")
    model.load_state_dict(state)
    return model.eval()


def train_run(
    config: RunConfig,
    out_root: str | Path = DEFAULT_OUT,
    *,
    data: PreparedData | None = None,
    device: str | torch.device = DEFAULT_DEVICE,
    progress: bool = False,
    force: bool = False,
    callbacks: Sequence[Callback] = (),
    write_plot: bool = True,
) -> RunResult:
    """Train one SimpleCNN run (seed = config.train.seed) and write runs/<run id>/.

    A finished run with the same config, data and seed is reused, and then no callback runs, unless
    `force`. `callbacks` are passed to `Trainer.fit` (e.g. the sweep's pruning hook) and to the run
    writer (`on_run_folder`, e.g. TensorBoard logging).
    """
    check_out_dir(out_root)  # before any work: an --out that is a file must not cost a training
    data = data or prepare_data(config)
    config_dict = to_dict(config)
    seed = config.train.seed
    data_info = data.info
    device = resolve_device(device)
    spec = RunSpec(
        out_root, RUN_KIND, config_dict, data_info, seed, force=force, callbacks=callbacks, device=device_name(device)
    )
    t0 = time.perf_counter()

    def fit() -> tuple[torch.nn.Module, FitResult, dict]:
        num_classes = len(data.dataset.class_names)
        model = create_model(
            config.model.name, num_classes=num_classes, config=config.model, image_size=config.data.image_size
        )
        trainer = Trainer(config.train, device=device, progress=progress)
        result = trainer.fit(model, data.train, data.val, augment=make_augment(config), callbacks=callbacks)
        return model, result, _run_summary(config, data, trainer, model, result)

    def write(run: RunDir, trained: tuple[torch.nn.Module, FitResult, dict]) -> dict:
        import yaml

        _, result, summary = trained
        run.write_text("config.yaml", yaml.safe_dump(config_dict, sort_keys=False))
        run.write_history(result.history)
        run.save_checkpoint(result.best_state, "best.pt")
        if summary["reported_model"] == "final":
            run.save_checkpoint(result.final_state, "final.pt")
        if write_plot:  # a figure that fails is a warning: the run is kept
            draw_safely(
                lambda: _plot_run(run.path, {"data": data_info, "seed": seed}, result.history), "the learning curves"
            )
        summary["prep_seconds"] = round(time.perf_counter() - t0 - result.seconds, 3)
        return summary

    def complete(hit: RunResult) -> None:
        if write_plot and not (hit.path / "learning_curves.png").is_file():
            # Suites and sweeps skip per-run plots; draw it now that someone asks for this run.
            draw_safely(lambda: _plot_run(hit.path, hit.summary), "the learning curves")

    return run_cached(spec, fit, write, on_cached=complete)


def _run_summary(
    config: RunConfig, data: PreparedData, trainer: Trainer, model: torch.nn.Module, result: FitResult
) -> dict:
    """The run's summary fields; evaluates every split (test included) with the best and the final weights."""
    # Final numbers: the test split is evaluated here, once per model, after all decisions.
    best = trainer.evaluate_splits(model, data.splits)
    model.load_state_dict(result.final_state)
    final = trainer.evaluate_splits(model, data.splits)
    model.load_state_dict(result.best_state)

    data_info = data.info
    reported = "best" if config.train.early_stopping.patience is not None else "final"
    return {
        "data_name": data_info["name"],
        "synthetic_data": data_info["synthetic"],
        "model": config.model.name,
        "params": count_parameters(model),
        "macs": sum(r["macs"] for r in describe_layers(model, model.input_shape)),
        **result.summary_fields(),
        "epochs_max": config.train.epochs,
        **{f"final_{k}": v for k, v in final.items()},
        **{f"best_{k}": v for k, v in best.items()},
        # The model this recipe delivers: the restored best weights when early stopping is on,
        # else the weights after the last epoch. Suites compare recipes on these numbers.
        "reported_model": reported,
        **{k: v for k, v in (best if reported == "best" else final).items()},
        "torch_threads": torch.get_num_threads(),  # results are bitwise reproducible for a fixed thread count
        "skipped_files": len(data_info["skipped_files"]),
    }


def _plot_run(run_path: Path, summary: dict, history: list[dict] | None = None) -> None:
    from cnnlab.core.plotting import plot_learning_curves
    from cnnlab.core.runs.folders import load_history

    data = summary["data"]
    label = f"{data['name']}{' (synthetic data)' if data.get('synthetic') else ''}"
    history = history if history is not None else load_history(run_path)
    plot_learning_curves(
        history, Path(run_path) / "learning_curves.png", title=f"SimpleCNN on {label}, seed {summary['seed']}"
    )


def run_identity(run_path: str | Path) -> dict:
    """A finished run as a cache key names what was computed from its model (the robustness evaluation, its
    diagnostics folder): its id, the SHA-256 of its config.json record and of the weights it reports (best.pt
    or final.pt, as `load_run_model` loads). A run that cannot be read gets no hashes: loading its model then
    raises the one-line error `load_run_model` gives."""
    from cnnlab.core.errors import DataError
    from cnnlab.core.io import sha256_file, short_hash
    from cnnlab.core.readback import UntrustedData, checkpoint_file
    from cnnlab.core.runs.folders import read_run

    path = Path(run_path)
    try:
        record = read_run(path)
        which = record.summary.get("reported_model", "best")
        if which not in ("best", "final"):
            raise DataError(f"unknown model {which!r}")
        weights = checkpoint_file(record.path / f"{which}.pt")
        return {"run": path.name, "config": short_hash(record.meta, 64), which: sha256_file(weights)}
    except (DataError, UntrustedData, OSError):
        return {"run": path.name, "unreadable": True}
