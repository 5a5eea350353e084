"""Runtime options: where results go and how work runs, as opposed to what it computes (the run configs).

`RuntimeOptions` (out, device, threads, jobs, data) is shared by the Python API, the experiment suites,
the report and the CLI, and every runtime default is written here once. None of these options is part
of a run's identity except through what they change in the resolved config (data) or the record of the
run (the device and thread count are written to every summary).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

from cnnlab.core.errors import ConfigError

__all__ = [
    "DEFAULT_OUT",
    "DEFAULT_DEVICE",
    "MAX_JOBS",
    "MAX_GPU_JOBS",
    "RuntimeOptions",
    "RuntimeView",
    "device_type",
    "identity_device",
    "default_jobs",
    "check_jobs",
    "JOBS_PER_CORE",
    "max_jobs",
]

log = logging.getLogger(__name__)

DEFAULT_OUT = Path("runs")  # the runs folder: every run, suite, sweep and cache lives below it
DEFAULT_DEVICE = "cpu"
MAX_JOBS = 4  # parallel training processes on the CPU by default, at most (one per core below that)
MAX_GPU_JOBS = 16  # parallel training processes sharing one GPU by default, at most (one per core below that)
JOBS_PER_CORE = 4  # --jobs is capped at this many processes per core: more only costs memory (issue 30: 100000)


def max_jobs() -> int:
    """The most parallel training processes any command starts: JOBS_PER_CORE per core (16 on 4 cores);
    a larger --jobs is lowered to it with a one-line warning."""
    return JOBS_PER_CORE * (os.cpu_count() or 1)


def default_jobs(device: str = DEFAULT_DEVICE) -> int:
    """Parallel training processes by default: one single-threaded process per core, up to MAX_JOBS on the CPU
    (for networks this small that beats one process using every core: pooling suite on 2 cores 26.0 s vs
    33.5 s, docs/benchmarks.md), and up to MAX_GPU_JOBS sharing a GPU, where each process only feeds the
    GPU its small kernels (one process leaves it mostly idle)."""
    gpu = device_type(device) in ("cuda", "mps")
    return max(1, min(os.cpu_count() or 1, MAX_GPU_JOBS if gpu else MAX_JOBS))


def device_type(device: object) -> str:
    """ "cpu", "cuda" or "mps" of a device name or torch.device ("cuda:1", "cuda (NVIDIA H200)" -> "cuda")."""
    text = str(getattr(device, "type", None) or device).strip().lower()
    return text[: len(text) - len(text.lstrip("abcdefghijklmnopqrstuvwxyz"))] or text


def identity_device(device: object) -> str | None:
    """The device as part of what identifies a result (run ids, cached activations, the report's search study):
    its type off the CPU ("cuda", "mps"), whose numbers differ from the CPU's in the last digits, so results
    of two device types are never mixed; None on the CPU, whose identities stay those of cnnlab 0.2."""
    kind = device_type(device)
    return None if kind == "cpu" else kind


def check_jobs(value: object, flag: str = "--jobs") -> int:
    """`value` if it is a positive integer, else a one-line ConfigError naming `flag`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{flag} must be a positive integer, got {str(value)[:40]!r}")
    return value


@dataclass(frozen=True)
class RuntimeOptions:
    """Where and how work runs.

    out: the runs folder. device: a torch device name ("cpu", "cuda", "cuda:1", "mps"), checked when
    training starts. threads: torch threads per training process (None: the rule of cnnlab.core.threads).
    jobs: parallel training processes (None: default_jobs for the device; at most max_jobs()). data: the Part 1 data (None: the RunConfig's default,
    cnnlab.art.config.DataConfig.name). cluster: a Dask cluster that trains instead of local processes
    (cnnlab.core.cluster: tcp://host:port, a scheduler file or local:N; None: local processes).
    """

    out: Path = DEFAULT_OUT
    device: str = DEFAULT_DEVICE
    threads: int | None = None
    jobs: int | None = None  # None: default_jobs(device)
    data: str | None = None
    cluster: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", Path(self.out))
        if self.jobs is None:
            object.__setattr__(self, "jobs", default_jobs(self.device))
        check_jobs(self.jobs)
        if self.jobs > max_jobs():  # each process holds torch and its data: 100000 of them exhaust memory
            log.warning("--jobs %d is more than %d per core: using %d processes", self.jobs, JOBS_PER_CORE, max_jobs())
            object.__setattr__(self, "jobs", max_jobs())
        if self.threads is not None:
            check_jobs(self.threads, "--threads")
        if not isinstance(self.device, str) or not self.device.strip():
            raise ConfigError(f"--device must name a torch device, got {str(self.device)[:40]!r}")
        if self.data is not None and not str(self.data).strip():
            raise ConfigError("--data must not be empty")
        if self.cluster is not None and not str(self.cluster).strip():
            raise ConfigError("--cluster must not be empty")


class RuntimeView:
    """The runtime options of an options object that holds them as `runtime` (SuiteOptions, ReportOptions),
    read as its own attributes."""

    runtime: RuntimeOptions

    @property
    def out_root(self) -> Path:
        return self.runtime.out

    @property
    def jobs(self) -> int:
        return self.runtime.jobs  # resolved by RuntimeOptions.__post_init__

    @property
    def device(self) -> str:
        return self.runtime.device

    @property
    def threads(self) -> int | None:
        return self.runtime.threads

    @property
    def art_data(self) -> str | None:
        """The Part 1 data (None: the RunConfig's default)."""
        return self.runtime.data

    def with_cluster(self, address: str | None):  # noqa: ANN201 - the same options class
        """A copy whose runs go to the Dask cluster at `address` (work started ahead, cnnlab.core.ahead)."""
        return replace(self, runtime=replace(self.runtime, cluster=address))
