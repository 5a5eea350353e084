"""Where log lines go, in the command's process and in its worker processes.

A long command (`cnnlab report`, `experiment`, `part2`) writes its INFO lines into a log file in the runs folder
(runs/logs/<command>-<time>.log) and shows only warnings and errors on the terminal (everything with -v). It
names the file and the terminal's level in the environment (LOG_FILE_ENV, TERMINAL_LEVEL_ENV), which spawned
worker processes inherit: the process pool's workers and the sweep's workers append to the same file
(`worker_handlers`). Without that file (a library call, another command) a worker logs to stderr as before.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

__all__ = [
    "LOG_FILE_ENV",
    "TERMINAL_LEVEL_ENV",
    "FILE_FORMAT",
    "FILE_PREFIX",
    "TERMINAL_FORMAT",
    "StderrHandler",
    "LogFileHandler",
    "worker_handlers",
    "configure_worker",
    "configure_silent_worker",
    "route_optuna",
]

LOG_FILE_ENV = "CNNLAB_LOG_FILE"
TERMINAL_LEVEL_ENV = "CNNLAB_LOG_TERMINAL_LEVEL"
TERMINAL_FORMAT = "%(levelname)s %(name)s: %(message)s"
FILE_PREFIX = "%(asctime)s %(process)d "  # the log file's lines: time and process, then the terminal's format
FILE_FORMAT = FILE_PREFIX + TERMINAL_FORMAT


class StderrHandler(logging.StreamHandler):
    """A handler that writes to whatever sys.stderr is when a line is logged (a live progress display replaces
    it with a proxy that prints above the display), not the stream of the moment it was made."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):  # noqa: D102
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ sets it; sys.stderr is always used
        pass


class LogFileHandler(logging.FileHandler):
    """Appends to the command's log file, made (with its folder) at the first line logged: a command that fails
    on its arguments leaves no runs folder behind."""

    def __init__(self, path: str | os.PathLike, fmt: str = FILE_FORMAT) -> None:
        super().__init__(path, mode="a", encoding="utf-8", delay=True)
        self.setFormatter(logging.Formatter(fmt))

    def emit(self, record: logging.LogRecord) -> None:
        if self.stream is None:
            try:
                Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
            except OSError:
                pass  # the write below fails and is reported by logging's handleError
        super().emit(record)


def worker_handlers(fmt: str = TERMINAL_FORMAT) -> list[logging.Handler]:
    """A worker process's handlers: with the command's log file named in the environment, every line into that
    file (appended, one write a line) and lines at the terminal's level to stderr; without it, one stderr handler."""
    path = os.environ.get(LOG_FILE_ENV)
    terminal = StderrHandler()
    terminal.setFormatter(logging.Formatter(fmt))
    if not path:
        return [terminal]
    terminal.setLevel(os.environ.get(TERMINAL_LEVEL_ENV, "WARNING"))
    return [LogFileHandler(path, FILE_PREFIX + fmt), terminal]


def configure_worker(fmt: str = TERMINAL_FORMAT) -> None:
    """Set up a pool worker's root logger (`worker_handlers`, at INFO, DEBUG with -v) when the command named a log
    file; otherwise leave it as it is (the worker then prints warnings only, Python's default)."""
    if not os.environ.get(LOG_FILE_ENV):
        return
    _root_logs_to(worker_handlers(fmt))


def _root_logs_to(handlers: list[logging.Handler]) -> None:
    """The root logger of a worker process writes to `handlers` alone, at INFO (DEBUG when the command has -v)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(logging.DEBUG if os.environ.get(TERMINAL_LEVEL_ENV) == "DEBUG" else logging.INFO)


def configure_silent_worker() -> None:
    """Set up a helper process that says nothing on the terminal (work started ahead, cnnlab.core.ahead: the
    command tells the user what it finds when it runs that stage itself): every line and Python warning goes
    to the command's log file, if it keeps one, and nowhere else."""
    path = os.environ.get(LOG_FILE_ENV)
    _root_logs_to([LogFileHandler(path) if path else logging.NullHandler()])
    logging.captureWarnings(True)
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the process's life: print() and tqdm say nothing


def route_optuna() -> None:
    """With the command's log file named: Optuna's own lines ("[I ...] Trial 3 finished ...") go through the root
    logger's handlers (into that file) instead of Optuna's stderr handler. Without it, nothing changes."""
    if not os.environ.get(LOG_FILE_ENV):
        return
    import optuna

    optuna.logging.disable_default_handler()
    optuna.logging.enable_propagation()
