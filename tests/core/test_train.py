import math

import pytest
import torch

from cnnlab.art.config import ModelConfig
from cnnlab.art.models import SimpleCNN
from cnnlab.core.errors import ConfigError
from cnnlab.core.train.callbacks import Callback, EarlyStopping, FitState
from cnnlab.core.train.config import EarlyStoppingConfig, OptimizerConfig, SchedulerConfig, TrainConfig
from cnnlab.core.train.trainer import Trainer, seed_everything


def _model(seed=0, **kw):
    seed_everything(seed)
    return SimpleCNN(
        ModelConfig(filters=(8, 8), kernel_sizes=3, strides=1, pool=True, **kw), num_classes=3, image_size=16
    )


def test_overfit_one_batch(toy_images):
    x, y = toy_images
    xb, yb = x[:8], y[:8]
    model = _model()
    cfg = TrainConfig(epochs=60, batch_size=8, optimizer=OptimizerConfig(name="adam", lr=3e-3))
    result = Trainer(cfg).fit(model, (xb, yb), (xb, yb))
    assert result.history[-1]["train_loss"] < 0.2 * result.history[0]["train_loss"]
    assert Trainer(cfg).evaluate(model, xb, yb)[1] == 1.0


def test_same_seed_same_history_to_the_last_digit(toy_images):
    x, y = toy_images
    cfg = TrainConfig(epochs=4, batch_size=8, optimizer=OptimizerConfig(lr=1e-3), seed=3)
    runs = []
    for _ in range(2):
        result = Trainer(cfg).fit(_model(seed=3, dropout=0.2), (x[:40], y[:40]), (x[40:], y[40:]))
        runs.append([{k: v for k, v in row.items() if k != "seconds"} for row in result.history])
    assert runs[0] == runs[1]
    other = Trainer(TrainConfig(epochs=4, batch_size=8, optimizer=OptimizerConfig(lr=1e-3), seed=4)).fit(
        _model(seed=4, dropout=0.2), (x[:40], y[:40]), (x[40:], y[40:])
    )
    assert [r["train_loss"] for r in other.history] != [r["train_loss"] for r in runs[0]]


def test_early_stopping_restores_true_best_weights(toy_images):
    x, y = toy_images
    # Validation labels are shuffled: validation loss gets worse as the model fits training data.
    gen = torch.Generator().manual_seed(1)
    y_val = y[40:][torch.randperm(20, generator=gen)]
    cfg = TrainConfig(
        epochs=40,
        batch_size=8,
        optimizer=OptimizerConfig(lr=3e-3),
        early_stopping=EarlyStoppingConfig(patience=3, monitor="val_loss"),
    )
    model = _model()
    trainer = Trainer(cfg)
    result = trainer.fit(model, (x[:40], y[:40]), (x[40:], y_val))
    assert result.stopped_early and result.selected_by == "val_loss"
    assert len(result.history) == result.best_epoch + 3
    best_val_loss = min(r["val_loss"] for r in result.history)
    assert result.best["val_loss"] == best_val_loss
    # the model holds the best weights, not the last ones (and not a live reference)
    assert trainer.evaluate(model, x[40:], y_val)[0] == pytest.approx(best_val_loss, rel=1e-5)
    assert any(not torch.equal(result.best_state[k], result.final_state[k]) for k in result.best_state)


class _Snapshots(Callback):
    """Records a copy of the weights after every epoch (to check which epoch early stopping restored)."""

    def __init__(self) -> None:
        self.states: list[dict[str, torch.Tensor]] = []

    def on_epoch_end(self, state: FitState, row: dict) -> None:
        self.states.append({k: v.detach().clone() for k, v in state.model.state_dict().items()})


def test_early_stopping_on_validation_accuracy_restores_the_first_best_epoch(toy_images):
    """The default monitor is validation accuracy (the handout's rule); ties keep the earliest epoch."""
    x, y = toy_images
    assert EarlyStoppingConfig().monitor == "val_acc"
    # Few, partly mislabelled validation images: accuracy rises, plateaus with ties, and wobbles.
    y_val = y[40:52].clone()
    y_val[::3] = (y_val[::3] + 1) % 3
    cfg = TrainConfig(
        epochs=30, batch_size=8, optimizer=OptimizerConfig(lr=3e-3), early_stopping=EarlyStoppingConfig(patience=4)
    )
    model, snaps = _model(), _Snapshots()
    trainer = Trainer(cfg)
    result = trainer.fit(model, (x[:40], y[:40]), (x[40:52], y_val), callbacks=[snaps])
    accs = [r["val_acc"] for r in result.history]
    first_best = accs.index(max(accs)) + 1
    assert result.selected_by == "val_acc" and result.best_epoch == first_best
    assert result.stopped_early and len(result.history) == first_best + 4  # patience 4 after the last improvement
    assert accs.count(max(accs)) > 1 or any(a == b for a, b in zip(accs, accs[1:]))  # the run really had ties to break
    # the model holds the weights of that epoch (not the last ones)
    assert all(torch.equal(model.state_dict()[k], snaps.states[first_best - 1][k]) for k in snaps.states[0])
    assert trainer.evaluate(model, x[40:52], y_val)[1] == max(accs)
    assert any(not torch.equal(snaps.states[first_best - 1][k], snaps.states[-1][k]) for k in snaps.states[0])


def test_evaluate_start_is_epoch_zero_competes_for_best_and_changes_nothing_else(toy_images):
    """A trained model fine-tuned at a harmful learning rate: the starting point (epoch 0) stays the best
    and is restored; without evaluate_start the epochs are bitwise the same as with it."""
    x, y = toy_images
    train, val = (x[:40], y[:40]), (x[40:], y[40:])
    good = _model(dropout=0.2)
    Trainer(TrainConfig(epochs=15, batch_size=8, optimizer=OptimizerConfig(lr=3e-3))).fit(good, train, val)
    start_state = {k: v.clone() for k, v in good.state_dict().items()}
    trainer = Trainer(TrainConfig(epochs=3, batch_size=8, optimizer=OptimizerConfig(name="sgd", lr=5.0)))
    start_val = trainer.evaluate(good, *val)
    assert start_val[1] == 1.0  # a separable toy set: the trained model is perfect on validation
    result = trainer.fit(good, train, val, evaluate_start=True, monitor={"test": val})
    assert result.start is not None and result.start["epoch"] == 0
    assert (result.start["val_loss"], result.start["val_acc"]) == start_val and "test_acc" in result.start
    assert len(result.history) == 3 and [r["epoch"] for r in result.curve] == [0, 1, 2, 3]
    assert max(r["val_acc"] for r in result.history) < 1.0  # lr 5 ruins it (else the test proves nothing)
    assert result.best_epoch == 0 and result.best is result.start
    assert all(torch.equal(good.state_dict()[k], start_state[k]) for k in start_state)  # restored to the start
    # Off (the default) and on give the same epochs to the last digit.
    runs = []
    for flag in (False, True):
        model = _model(seed=1, dropout=0.2)
        model.load_state_dict({k: v for k, v in start_state.items()})
        cfg = TrainConfig(epochs=3, batch_size=8, optimizer=OptimizerConfig(lr=1e-3), seed=2)
        r = Trainer(cfg).fit(model, train, val, evaluate_start=flag)
        runs.append([{k: v for k, v in row.items() if k != "seconds"} for row in r.history])
        assert (r.start is None) != flag
    assert runs[0] == runs[1]


def test_early_stopping_callback_on_a_constructed_history():
    """Validation accuracy 0.4, 0.6, 0.6, 0.55, 0.6, 0.5 with patience 3: epoch 2 is kept, training stops after epoch 5."""
    model = torch.nn.Linear(2, 2)
    state = FitState(TrainConfig(), model, torch.optim.SGD(model.parameters(), lr=0.1), None)
    stopper = EarlyStopping(EarlyStoppingConfig(patience=3))
    stopper.on_fit_start(state)
    stopped_at = None
    for epoch, acc in enumerate([0.4, 0.6, 0.6, 0.55, 0.6, 0.5], start=1):
        with torch.no_grad():
            model.weight.fill_(epoch)  # the weights "of" each epoch
        stopper.on_epoch_end(state, {"epoch": epoch, "val_acc": acc, "val_loss": 1.0 / epoch})
        if state.should_stop:
            stopped_at = epoch
            break
    assert (stopper.best_epoch, stopped_at) == (2, 5)
    assert torch.all(stopper.best_state["weight"] == 2)  # the copy taken at epoch 2, not a live reference
    assert "no val_acc improvement for 3 epochs" in state.stop_reason


def test_monitor_sets_are_recorded_not_used(toy_images):
    x, y = toy_images
    result = Trainer(TrainConfig(epochs=2, batch_size=16)).fit(
        _model(), (x[:40], y[:40]), (x[40:50], y[40:50]), monitor={"test": (x[50:], y[50:])}
    )
    assert {"test_loss", "test_acc"} <= set(result.history[0])


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop"])
@pytest.mark.parametrize("scheduler", ["none", "step", "cosine", "exponential", "plateau", "onecycle"])
def test_optimizers_and_schedulers_train(toy_images, name, scheduler):
    x, y = toy_images
    cfg = TrainConfig(
        epochs=3,
        batch_size=16,
        optimizer=OptimizerConfig(name=name, lr=1e-3, weight_decay=1e-4, nesterov=name == "sgd"),
        scheduler=SchedulerConfig(name=scheduler, step_size=1, gamma=0.5),
    )
    result = Trainer(cfg).fit(_model(), (x[:40], y[:40]), (x[40:], y[40:]))
    assert all(math.isfinite(r["train_loss"]) for r in result.history)
    lrs = [r["lr"] for r in result.history]
    if scheduler in ("step", "exponential"):
        assert lrs == pytest.approx([1e-3, 5e-4, 2.5e-4])
    if scheduler == "none":
        assert lrs == [1e-3] * 3


def test_augment_is_applied_to_training_batches(toy_images):
    x, y = toy_images
    seen = []

    def augment(xb, gen):
        seen.append(xb.shape[0])
        return -xb

    Trainer(TrainConfig(epochs=1, batch_size=16)).fit(_model(), (x[:40], y[:40]), (x[40:], y[40:]), augment=augment)
    assert seen == [16, 16, 8]


def test_frozen_parameters_are_not_updated(toy_images):
    x, y = toy_images
    model = _model()
    for p in model.features.parameters():
        p.requires_grad_(False)
    before = {k: v.clone() for k, v in model.features.state_dict().items()}
    Trainer(TrainConfig(epochs=2, batch_size=16, optimizer=OptimizerConfig(lr=1e-2))).fit(
        model, (x[:40], y[:40]), (x[40:], y[40:])
    )
    assert all(torch.equal(before[k], v) for k, v in model.features.state_dict().items())


def test_custom_callback_records_rows_and_sees_model_and_optimizer(toy_images):
    x, y = toy_images

    class Recorder(Callback):
        def __init__(self):
            self.calls, self.rows = [], []

        def on_fit_start(self, state):
            self.calls.append("start")
            assert state.model is model and state.history == []
            self.lr = state.optimizer.param_groups[0]["lr"]

        def on_epoch_end(self, state, row):
            self.calls.append(f"epoch {state.epoch}")
            assert state.history[-1] is row
            self.rows.append(dict(row))

        def on_fit_end(self, state):
            self.calls.append("end")

    model, recorder = _model(), Recorder()
    cfg = TrainConfig(epochs=3, batch_size=16, optimizer=OptimizerConfig(lr=2e-3))
    result = Trainer(cfg).fit(
        model, (x[:40], y[:40]), (x[40:], y[40:]), monitor={"test": (x[50:], y[50:])}, callbacks=[recorder]
    )
    assert recorder.calls == ["start", "epoch 1", "epoch 2", "epoch 3", "end"]
    assert recorder.rows == result.history
    assert list(recorder.rows[0]) == [
        "epoch",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "lr",
        "test_loss",
        "test_acc",
        "seconds",
    ]
    assert recorder.lr == 2e-3 and not result.stopped_early


def test_callback_can_stop_training_and_attaching_one_changes_nothing_else(toy_images):
    x, y = toy_images

    class StopAfter(Callback):
        def on_epoch_end(self, state, row):
            if row["epoch"] == 2:
                state.request_stop("enough")

    cfg = TrainConfig(epochs=6, batch_size=8, optimizer=OptimizerConfig(lr=1e-3), seed=5)
    full = Trainer(cfg).fit(_model(seed=5, dropout=0.2), (x[:40], y[:40]), (x[40:], y[40:]))
    model = _model(seed=5, dropout=0.2)
    result = Trainer(cfg).fit(model, (x[:40], y[:40]), (x[40:], y[40:]), callbacks=[StopAfter()])
    assert result.stopped_early and len(result.history) == 2 and len(full.history) == 6
    # The same first two epochs to the last digit: a callback does not disturb the random streams.
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(result.history) == strip(full.history[:2])
    assert result.best_epoch == min((1, 2), key=lambda e: result.history[e - 1]["val_loss"])
    assert all(torch.equal(v, result.best_state[k]) for k, v in model.state_dict().items())


def test_callback_exception_aborts_but_still_ends_the_fit(toy_images):
    x, y = toy_images
    ended = []

    class Prune(Callback):
        def on_epoch_end(self, state, row):
            raise RuntimeError(f"pruned at epoch {row['epoch']}")

        def on_fit_end(self, state):
            ended.append(len(state.history))

    with pytest.raises(RuntimeError, match="pruned at epoch 1"):
        Trainer(TrainConfig(epochs=3, batch_size=16)).fit(
            _model(), (x[:40], y[:40]), (x[40:], y[40:]), callbacks=[Prune()]
        )
    assert ended == [1]


def test_early_stopping_callback_min_delta_and_monitor():
    model = torch.nn.Linear(2, 2)
    state = FitState(TrainConfig(), model, torch.optim.SGD(model.parameters(), lr=0.1), None)
    stopper = EarlyStopping(EarlyStoppingConfig(patience=2, monitor="val_acc", min_delta=0.05))
    stopper.on_fit_start(state)
    for epoch, acc in enumerate([0.5, 0.53, 0.6, 0.62, 0.64], start=1):
        stopper.on_epoch_end(state, {"epoch": epoch, "val_acc": acc})
        if state.should_stop:
            break
    # 0.53 and 0.62 do not beat the best by more than min_delta; 0.64 ends patience after epoch 3
    assert (stopper.best_epoch, epoch, state.should_stop) == (3, 5, True)
    assert "best epoch 3" in state.stop_reason


def test_warmup_rises_linearly_then_follows_the_schedule():
    from cnnlab.core.train.config import WARMUP_START, SchedulerConfig
    from cnnlab.core.train.trainer import create_scheduler

    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [p], "lr": 1.0}, {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.1}])
    sched = create_scheduler(opt, SchedulerConfig(name="step", step_size=2, gamma=0.5, warmup_epochs=2), 8, 4)
    lrs, head = [], []
    for _ in range(7):
        lrs.append(round(opt.param_groups[0]["lr"], 6))
        head.append(round(opt.param_groups[1]["lr"], 6))
        opt.step()
        sched.step()
    start = WARMUP_START
    assert lrs == [start, (start + 1) / 2, 1.0, 1.0, 0.5, 0.5, 0.25]
    assert head == [round(x / 10, 6) for x in lrs]  # every param group keeps its ratio
    with pytest.raises(ConfigError, match="warmup_epochs"):
        SchedulerConfig(name="onecycle", warmup_epochs=2)
    with pytest.raises(ConfigError, match="warmup_epochs"):
        SchedulerConfig(warmup_epochs=-1)
