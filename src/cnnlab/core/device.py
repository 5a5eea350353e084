"""Torch devices, checked: an unavailable device is a one-line error, never a CUDA traceback.

`resolve_device("auto")` picks cuda if available, else mps, else cpu; the resolved name is what runs record.
`configure_determinism(device)` makes seeded CUDA runs repeat bitwise on the same GPU model and software
(PyTorch's reproducibility notes): deterministic algorithms, cuDNN without benchmarking, cuBLAS with a
fixed workspace, and full float32 (no TF32), so CUDA numbers differ from the CPU's only in the last
digits.
"""

from __future__ import annotations

import logging
import os

import torch

from cnnlab.core.errors import ConfigError
from cnnlab.core.runtime import DEFAULT_DEVICE

__all__ = ["AUTO", "resolve_device", "auto_device", "configure_determinism", "device_name"]

log = logging.getLogger(__name__)

AUTO = "auto"
CUBLAS_WORKSPACE = ":4096:8"  # what cuBLAS needs to pick deterministic GEMM algorithms (CUDA >= 10.2)


def auto_device() -> str:
    """ "cuda" if a CUDA GPU is usable, else "mps" (Apple GPUs), else "cpu"."""
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve_device(device: str | torch.device = DEFAULT_DEVICE) -> torch.device:
    """`device` as a torch.device ("auto": see auto_device), after checking that this torch build and machine can use it."""
    if isinstance(device, str) and device.strip().lower() == AUTO:
        device = auto_device()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"unknown device {str(device)[:40]!r}: {str(exc)[:80]}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {str(device)!r} is not available: this torch build or machine has no CUDA GPU "
                "(use --device cpu or auto)"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"device {str(device)!r} is not available: {torch.cuda.device_count()} CUDA GPU(s)")
        # Before the first cuBLAS handle: deterministic GEMMs need a fixed workspace (a no-op if the user set one).
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {str(device)!r} is not available on this machine (use --device cpu or auto)")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device {str(device)[:40]!r} is not supported (use cpu, cuda, mps or auto)")
    return dev


def configure_determinism(device: torch.device) -> None:
    """Set the process-wide switches that make seeded CUDA training repeat bitwise (no-op on the CPU, which
    is deterministic for a fixed thread count)."""
    if device.type != "cuda":
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    # warn_only: the few ops without a deterministic CUDA kernel (AlexNet's adaptive average pooling
    # backward, when every AlexNet layer trains) warn instead of failing the run.
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.allow_tf32 = (
        False  # full float32: CUDA results then differ from the CPU's in the last digits only
    )
    torch.backends.cuda.matmul.allow_tf32 = False


def device_name(device: torch.device) -> str:
    """What a run records of its device: "cpu", or the GPU's model, e.g. "cuda (NVIDIA H200)"."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type
