"""Torch devices, checked: an unavailable device is a one-line error, never a CUDA traceback."""

from __future__ import annotations

import torch

from cnnlab.core.errors import ConfigError


def resolve_device(device: str | torch.device = "cpu") -> torch.device:
    """`device` as a torch.device, after checking that this torch build and machine can use it."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"unknown device {device!r}: {exc}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} is not available: this torch build or machine has no CUDA GPU (use --device cpu)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"device {device!r} is not available: {torch.cuda.device_count()} CUDA GPU(s)")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {device!r} is not available on this machine (use --device cpu)")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device {device!r} is not supported (use cpu or cuda)")
    return dev
