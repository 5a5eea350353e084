"""Checking weights read from a file against the model they are for, before anything is loaded.

`torch.load(weights_only=True)` keeps a hostile file from running code, but it still returns any
mix of plain types and tensors. `state_dict_problem` says, in one line, why such an object is not
the state dict of a given model (build that model on the "meta" device to get the expected shapes
without allocating anything).
"""

from __future__ import annotations

import os
import pickle
import warnings
from collections.abc import Mapping
from typing import Any

import torch


def load_weights(path: str | os.PathLike) -> Any:
    """torch.load(path, map_location="cpu", weights_only=True), silently: torch warns (two lines on stderr)
    about a pickle it is about to refuse, so its warnings are muted; a refused pickle raises an
    UnpicklingError whose message is one plain line. Anything else raises as torch.load does."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise pickle.UnpicklingError(
            "not a weights file: it holds other Python objects (refused: loading them could run code)"
        ) from None


def state_dict_problem(expected: Mapping[str, torch.Tensor], state: object) -> str | None:
    """Why `state` is not a state dict with exactly `expected`'s keys and shapes (one line), or None."""
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        return "the weights are not a mapping of parameter names to tensors"
    for keys, what in (
        ([k for k in expected if k not in state], "lack"),
        ([k for k in state if k not in expected], "have an unexpected"),
    ):
        if keys:
            more = f" (and {len(keys) - 1} more)" if len(keys) > 1 else ""
            return f"the weights {what} entry {keys[0][:80]!r}{more}"
    for key, want in expected.items():
        got = state[key]
        if tuple(got.shape) != tuple(want.shape):
            return f"the weights' {key[:80]} has shape {list(got.shape)}, the model needs {list(want.shape)}"
        if want.is_floating_point() and not got.is_floating_point():
            return f"the weights' {key[:80]} is a {got.dtype} tensor, the model needs floating point"
    return None
