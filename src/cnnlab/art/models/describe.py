"""Human-readable description of a configured network (question 1.2)."""

from __future__ import annotations

from cnnlab.art.config import RunConfig
from cnnlab.art.models import count_parameters, create_model, describe_layers
from cnnlab.core.train.config import OPTIMIZER_NAMES


def describe_run_config(config: RunConfig, num_classes: int = 11) -> str:
    """Layer table (output shape, parameters, multiply-adds) plus activation, loss and optimizer."""
    size = config.data.image_size
    model = create_model(config.model.name, num_classes=num_classes, config=config.model, image_size=size)
    rows = describe_layers(model, (3, size, size))
    lines = [f"{'layer':<16}{'type':<20}{'detail':<22}{'output':<16}{'params':>9}{'MACs':>11}"]
    for r in rows:
        shape = "x".join(str(d) for d in r["output_shape"])
        lines.append(f"{r['name']:<16}{r['type']:<20}{r['detail']:<22}{shape:<16}{r['params']:>9,}{r['macs']:>11,}")
    n_conv = sum(r["type"].endswith("Conv2d") for r in rows)
    n_fc = sum(r["type"] == "Linear" for r in rows)
    opt = config.train.optimizer
    sched = config.train.scheduler.name
    lines += [
        "",
        f"input: 3x{size}x{size} RGB in [-0.5, 0.5]",
        f"weighted layers: {n_conv + n_fc} ({n_conv} convolutional, {n_fc} fully connected)",
        f"activation: {config.model.activation} on every hidden layer; the output layer gives logits",
        "loss: cross-entropy on the logits (softmax over classes inside the loss)",
        f"optimizer: {OPTIMIZER_NAMES[opt.name]} (lr {opt.lr:g}, weight decay {opt.weight_decay:g}"
        + (f", momentum {opt.momentum:g}" if opt.name in ("sgd", "rmsprop") else "")
        + f"), mini-batches of {config.train.batch_size}, {config.train.epochs} epochs, scheduler {sched}",
        f"parameters: {count_parameters(model):,}",
    ]
    return "\n".join(lines)
