"""What a long command (`cnnlab report`, `experiment`, `part2`) shows while it works, and where its log goes.

On a terminal: one live display (rich) of the stage ("[5/15] search"), runs done of runs planned (cached ones
count as done at once), elapsed time and the time left in the stage; each finished stage leaves one line above
it. Not a terminal (CI, a pipe): one line when a stage ends, and at most one a minute while it runs.

The library's INFO lines, and its workers', go to runs/logs/<command>-<time>.log (cnnlab.core.logs); the
terminal gets warnings and errors (everything with -v). The command's own summary (stdout) is followed by the
time of each stage and the log file's path.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from cnnlab.core import progress
from cnnlab.core.logs import (
    LOG_FILE_ENV,
    TERMINAL_FORMAT,
    TERMINAL_LEVEL_ENV,
    LogFileHandler,
    StderrHandler,
    route_optuna,
)

__all__ = ["LONG_COMMANDS", "command_name", "command_output", "format_seconds", "stage_line", "PlainLines"]

LONG_COMMANDS = ("report", "experiment", "part2")  # the commands that train many runs
PLAIN_EVERY = 60.0  # seconds between two progress lines when the output is not a terminal


def command_name(args: argparse.Namespace) -> str | None:
    """The long command `args` runs ("report", "experiment", "part2-mlp"), or None for another command."""
    if args.command not in LONG_COMMANDS:
        return None
    step = getattr(args, "part2_command", None)
    return f"{args.command}-{step}" if step else args.command


def format_seconds(seconds: float | None) -> str:
    """'42 s', '3:07', '1:02:03' ('?' for None)."""
    if seconds is None:
        return "?"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def _head(p: progress.Progress, stage: progress.Stage) -> str:
    return f"[{stage.index}/{p.total_stages}] {stage.name}"


def _runs(stage: progress.Stage) -> str:
    """'12/40 runs, 3 cached' ('' for a stage without runs: figures, LaTeX)."""
    if not stage.planned:
        return ""
    cached = f", {stage.cached} cached" if stage.cached else ""
    return f"{stage.done}/{stage.planned} runs{cached}"


def stage_line(p: progress.Progress, stage: progress.Stage) -> str:
    """One line about a stage: where it is, its runs, and the times (elapsed in all; left in the stage)."""
    runs = _runs(stage)
    if stage.seconds is not None:
        return f"{_head(p, stage)}: done in {format_seconds(stage.seconds)}" + (f" ({runs})" if runs else "")
    return f"{_head(p, stage)}: " + ", ".join(_status_parts(p, stage))


def _status_parts(p: progress.Progress, stage: progress.Stage) -> list[str]:
    left = stage.remaining()
    parts = [_runs(stage), f"{format_seconds(p.elapsed)} elapsed"]  # elapsed: the command; left: this stage
    parts += [f"about {format_seconds(left)} left"] if left is not None else []
    return [x for x in parts if x]


class PlainLines(progress.Listener):
    """For output that is not a terminal: a line when a stage ends, and at most one a minute while it runs (so a
    command that fails at once still prints its one error line alone)."""

    def __init__(self, stream: TextIO, every: float = PLAIN_EVERY) -> None:
        self.stream, self.every, self.last = stream, every, time.monotonic()

    def _print(self, text: str) -> None:
        print(f"cnnlab: {text}", file=self.stream, flush=True)
        self.last = time.monotonic()

    def changed(self, p: progress.Progress, stage: progress.Stage) -> None:
        if time.monotonic() - self.last >= self.every:
            self._print(stage_line(p, stage))

    def finished(self, p: progress.Progress, stage: progress.Stage) -> None:
        self._print(stage_line(p, stage))


class LiveDisplay(progress.Listener):
    """For a terminal: one rich progress display while a stage runs, redrawn twice a second (the elapsed time
    moves on its own); a finished stage leaves one line. Between stages nothing is live, so the command's own
    output (stdout) prints as it is."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn
        from rich.text import Text

        display = self

        class StatusColumn(ProgressColumn):
            def render(self, task: Any) -> Text:
                return Text(display.status())

        self.p: progress.Progress | None = None
        self.stage: progress.Stage | None = None
        self.bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            StatusColumn(),
            console=Console(stderr=True),
            refresh_per_second=2,
            transient=True,  # gone when the stage ends: its one line stays
            redirect_stderr=True,  # warnings print above the display
            redirect_stdout=False,
        )
        self.task = self.bar.add_task("", total=None)

    def close(self) -> None:
        self.bar.stop()

    def started(self, p: progress.Progress, stage: progress.Stage) -> None:
        self.p, self.stage = p, stage
        self.bar.reset(self.task, description=_head(p, stage), total=None, completed=0)
        self.bar.start()

    def changed(self, p: progress.Progress, stage: progress.Stage) -> None:
        self.bar.update(self.task, total=stage.planned or None, completed=stage.done)

    def finished(self, p: progress.Progress, stage: progress.Stage) -> None:
        self.bar.stop()
        self.stage = None
        self.bar.console.print(f"[green]✓[/green] {stage_line(p, stage)}", highlight=False, markup=True)

    def status(self) -> str:
        p, s = self.p, self.stage
        if p is None or s is None:
            return ""
        return " • ".join(_status_parts(p, s))


@contextlib.contextmanager
def command_output(args: argparse.Namespace) -> Iterator[progress.Progress | None]:
    """Logging and progress for the command of `args`: for a long command (LONG_COMMANDS) the log file, the
    terminal's level and the progress display, then the stage times and the log's path on stdout; for another
    command INFO on stderr as always (DEBUG with -v)."""
    verbose = bool(getattr(args, "verbose", False))
    name = command_name(args)
    root = logging.getLogger()
    if name is None:
        logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=TERMINAL_FORMAT, stream=sys.stderr)
        yield None
        return
    log_path = _log_file(Path(getattr(args, "out", "runs")), name, create_out=not getattr(args, "no_train", False))
    terminal = StderrHandler()
    terminal.setFormatter(logging.Formatter(TERMINAL_FORMAT))
    terminal.setLevel(logging.DEBUG if verbose else logging.WARNING)
    handlers: list[logging.Handler] = [terminal]
    if log_path is not None:
        handlers.append(LogFileHandler(log_path))
    else:  # no runs folder to write into (the command will say why): the terminal gets INFO as before
        terminal.setLevel(logging.DEBUG if verbose else logging.INFO)
    level = root.level
    for h in handlers:  # added beside any there (a test's capture), removed at the end
        root.addHandler(h)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    env = {LOG_FILE_ENV: str(log_path) if log_path else None, TERMINAL_LEVEL_ENV: logging.getLevelName(terminal.level)}
    saved_env = {k: os.environ.get(k) for k in env}
    _set_env(env)
    if log_path is not None and name in ("report", "experiment"):  # the commands that search with Optuna
        route_optuna()
    live = sys.stderr.isatty() and not verbose  # with -v the lines themselves are the progress
    listener: progress.Listener = LiveDisplay() if live else PlainLines(sys.stderr)
    try:
        with progress.listening(listener) as state, contextlib.ExitStack() as stack:
            if isinstance(listener, LiveDisplay):
                stack.callback(listener.close)  # also when the command fails: the terminal is left clean
            if name.startswith("part2-"):  # one step, one stage: "part2 mlp"
                stack.enter_context(progress.stage(name.replace("-", " ")))
            yield state
        times = state.stage_times()
        out = sys.stderr if getattr(args, "json", False) else sys.stdout  # --json: stdout holds the JSON alone
        if times:
            print("stage times: " + ", ".join(f"{k} {format_seconds(v)}" for k, v in times.items()), file=out)
            # for the log's reader (bench/simulate_cluster.py): exact seconds, as JSON
            logging.getLogger(__name__).info(
                "stage seconds: %s", json.dumps({k: round(v, 2) for k, v in times.items()})
            )
        if log_path is not None and log_path.is_file():
            print(f"log: {log_path}", file=out)
    finally:
        _set_env(saved_env)
        for h in handlers:
            root.removeHandler(h)
            h.close()
        root.setLevel(level)


def _log_file(out: Path, name: str, create_out: bool = True) -> Path | None:
    """The path of runs/logs/<command>-<time>.log (made at its first line: a command that fails on its arguments
    leaves no runs folder behind); None when the runs folder is not a folder, or does not exist and `create_out`
    is false (`--no-train` must find a missing runs folder missing)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if (out.exists() and not out.is_dir()) or (not create_out and not out.is_dir()):
        return None
    folder = out / "logs"
    for n in range(1, 100):  # two commands started in the same second get a file each
        path = folder / (f"{name}-{stamp}.log" if n == 1 else f"{name}-{stamp}-{n}.log")
        if not path.exists():
            return path
    return None


def _set_env(values: dict[str, str | None]) -> None:
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
