"""The labels of the Part 1 suite variants, written once.

The suites (definitions.py) build their variants with these labels and everything that reads a suite
back (findings, suite plots, the report) finds its rows by them through `find_variant`, which fails
loudly on a label the suite does not have instead of quietly using another row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cnnlab.core.errors import CnnlabError
from cnnlab.core.train.config import OPTIMIZER_NAMES

# 1.2 baseline: the starter network alone.
STARTER = "starter"

# 1.3 pooling: the reference is the starter network without pooling.
NO_POOLING = "no pooling"

# 1.4 regularisation: the reference (trained for the whole budget, no regulariser) and the groups.
REG_BASELINE = "baseline (no regulariser)"
DROPOUT = "dropout"  # groups, in table order
OPTIMIZER = "optimizer and learning rate"
WEIGHT_DECAY = "weight decay"
EARLY_STOPPING = "early stopping"
SCHEDULE = "LR schedule"
REG_GROUPS = (DROPOUT, OPTIMIZER, WEIGHT_DECAY, EARLY_STOPPING, SCHEDULE)
# 1.5 architecture: the reference, the single changes the report names, and the shape group.
ARCH_STARTER = "starter (k5 s2, 2x16)"
KERNEL_SIZES = (3, 7)
STRIDES = (3,)  # the handout asks about a larger stride; stride 1 (1.8M parameters) cost a quarter of the suite
ONE_CONV = "1 conv layer"
THREE_CONV = "3 conv layers"
FOUR_CONV = "4 conv layers (k3)"
DEPTHS = (ONE_CONV, THREE_CONV, FOUR_CONV)
SHAPE = "shape"  # a group

# 1.6 search and 1.7 robustness.
BEST_FOUND = "best found"
AS_TRAINED = "as trained"
AUGMENTED = "augmented"


def lr_label(optimizer: str, lr: float) -> str:
    """'SGD lr 0.01': an optimizer at a learning rate (the 1.4 optimizer group)."""
    return f"{OPTIMIZER_NAMES.get(optimizer, optimizer)} lr {lr:g}"


def decay_label(optimizer: str, decay: float) -> str:
    """'Adam + L2 0.01' (SGD, Adam, RMSprop: L2 added to the gradient) or 'AdamW decay 0.1' (decoupled)."""
    kind = "decay" if optimizer == "adamw" else "+ L2"
    return f"{OPTIMIZER_NAMES.get(optimizer, optimizer)} {kind} {decay:g}"


def kernel_label(size: int) -> str:
    """'kernel 3': the architecture variant with `size`x`size` filters."""
    return f"kernel {size}"


def stride_label(stride: int) -> str:
    """'stride 1': the architecture variant with convolution stride `stride`."""
    return f"stride {stride}"


def find_variant(rows: Sequence[Mapping], label: str, suite: str) -> dict:
    """The row of `label` in the rows of `suite`; a CnnlabError naming both when there is none."""
    for r in rows:
        if r["variant"] == label:
            return r  # type: ignore[return-value]
    have = ", ".join(repr(r["variant"]) for r in rows) or "no rows"
    raise CnnlabError(
        f"suite {suite!r} has no variant {label!r} (it has {have}); rerun `cnnlab experiment {suite}` with this version"
    )
