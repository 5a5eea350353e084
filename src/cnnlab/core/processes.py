"""Processes: whether a pid is alive, and worker processes that never outlive their parent.

cnnlab starts worker processes in two places (the suites' process pool, the sweep's workers), both with
the "spawn" start method. When the parent is killed with SIGKILL nothing tells them: a pool worker
finishes its run and then blocks on its pipe forever. `exit_with_parent()`, called first thing in
every worker, closes that hole twice over:
  - Linux: prctl(PR_SET_PDEATHSIG, SIGKILL), so the kernel kills the worker the moment its parent
    exits (then a re-check of the parent pid covers a parent that died before the call);
  - everywhere: a daemon thread that polls the parent pid and ends the process when it changes
    (the worker was re-parented) or the parent is gone.

Stopping by signal (`stop_on_signals`): every command turns SIGINT and SIGTERM into `Stopped`, raised once,
never lost in a finalizer, and passed on to the command's worker processes (`pass_on_signal`), so a
signal sent to the parent alone (a scheduler's stop, `kill -INT`) stops every worker within seconds, and
the command exits 130 or 143 through its normal clean-up (no "leaked semaphore" warnings).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCH_INTERVAL = 1.0  # seconds between the watchdog's checks of the parent


def host_tag() -> str:
    """This machine's name as it appears in temporary names: letters, digits and _ only (no '-' or '.')."""
    import re
    import socket

    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:40] or "host"


def process_tag() -> str:
    """'<pid>.<host>': names this process's temporary files and folders, unique across the hosts that
    share a folder (a pid alone is not: another host's live pid can look dead here)."""
    return f"{os.getpid()}.{host_tag()}"


def tag_alive(tag: str) -> bool | None:
    """For a `process_tag` (or a bare pid, as older versions wrote): whether that process runs. None when
    this host cannot tell: the tag names another host, or is not a tag at all."""
    pid, _, host = tag.partition(".")
    if not pid.isdigit() or (host and host != host_tag()):
        return None
    return pid_alive(int(pid))


FOREIGN_TMP_AGE = 3 * 24 * 3600  # seconds untouched before another host's temporary counts as stale


def left_by_dead_process(tag: str, path: str | os.PathLike, foreign_age: float = FOREIGN_TMP_AGE) -> bool:
    """Whether the temporary file or folder `path`, named by `tag` (a `process_tag` or a bare pid), was left by
    a process that is gone: one of this host's whose process is not running (never this process's own), or
    another host's (or an unreadable tag) only once untouched for `foreign_age` seconds. The one rule every
    cleanup follows, so several hosts can share a folder (NFS) without removing each other's work."""
    if tag in (process_tag(), str(os.getpid())):
        return False
    alive = tag_alive(tag)
    if alive is None:
        import time

        try:
            return time.time() - os.stat(path).st_mtime >= foreign_age
        except OSError:
            return False
    return not alive


def pid_alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, which writes nothing any more, counts as dead)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed worker can linger as a zombie until it is reaped.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] not in ("Z", "X")
    except OSError:
        return True


def exit_with_parent(parent_pid: int | None = None, interval: float = WATCH_INTERVAL) -> None:
    """Make this (worker) process end when its parent dies, even by SIGKILL.

    `parent_pid` defaults to the process that started this one (multiprocessing's parent, else
    os.getppid()). Safe to call more than once; the watchdog thread is started once.
    """
    if parent_pid is None:
        import multiprocessing

        parent = multiprocessing.parent_process()
        parent_pid = parent.pid if parent is not None and parent.pid else os.getppid()
    if sys.platform.startswith("linux"):
        _set_parent_death_signal(signal.SIGKILL)
    if _parent_gone(parent_pid):  # it died before the signal was armed
        os._exit(1)
    if not any(t.name == "cnnlab-parent-watchdog" for t in threading.enumerate()):
        threading.Thread(
            target=_watch_parent, args=(parent_pid, interval), name="cnnlab-parent-watchdog", daemon=True
        ).start()


def _set_parent_death_signal(sig: int) -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            log.debug("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    except (OSError, AttributeError) as exc:  # no libc prctl: the watchdog thread still works
        log.debug("prctl unavailable: %s", exc)


def _parent_gone(parent_pid: int) -> bool:
    return os.getppid() != parent_pid or not pid_alive(parent_pid)


def _watch_parent(parent_pid: int, interval: float) -> None:
    import time

    while True:
        time.sleep(interval)
        if _parent_gone(parent_pid):
            os._exit(1)  # no cleanup: the parent that would collect our results is gone


# ----------------------------------------------------------------------------- stopping by signal
RESEND_DELAY = 0.05  # seconds before a stop swallowed in a finalizer is raised again


class Stopped(KeyboardInterrupt):
    """A stop by signal (SIGINT or SIGTERM) raised as an interrupt: work is given back, exit 128 + signum."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum
        self.exit_status = 128 + signum

    def __reduce__(self) -> tuple:
        # Pickled as its signal, not its message: a held worker's Stopped travels back to the parent.
        return (type(self), (self.signum,))


def exit_status(exc: BaseException) -> int:
    """130 for Ctrl-C (SIGINT), 143 for SIGTERM."""
    return getattr(exc, "exit_status", 128 + signal.SIGINT)


class _Stop:
    """This process's stop request (main thread): the first signal, and whether its Stopped is on its way."""

    depth = 0  # nested stop_on_signals() blocks; the outermost one resets the request
    signum: int | None = None
    raised = False  # a Stopped was raised and not swallowed: repeated signals change nothing


def stop_requested() -> int | None:
    """The signal that asked this process to stop (inside `stop_on_signals`), else None."""
    return _Stop.signum


def raise_if_stopped() -> None:
    """A safe point: raise Stopped if a signal asked this process to stop (even if its first Stopped was
    swallowed by code that ignores exceptions)."""
    if _Stop.signum is not None:
        _Stop.raised = True
        raise Stopped(_Stop.signum)


def _on_stop_signal(signum: int, _frame: Any) -> None:
    if _Stop.signum is None:
        _Stop.signum = signum
    if _Stop.raised:  # a repeat (a terminal's Ctrl-C and the parent's pass-on): the stop is under way
        return
    _Stop.raised = True
    raise Stopped(_Stop.signum)


def _stop_unraisable(previous: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """An unraisable-exception hook: a Stopped raised where Python ignores exceptions (a finalizer, a weakref
    callback: "Exception ignored in ...") is not lost: it is raised again shortly, in the main code."""

    def hook(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, Stopped) or _Stop.signum is None:
            previous(unraisable)
            return
        _Stop.raised = False
        log.debug("a stop by signal %d landed in %r; raising it again", _Stop.signum, unraisable.object)
        timer = threading.Timer(RESEND_DELAY, _resend, args=(_Stop.signum,))
        timer.daemon = True
        timer.start()

    return hook


def _resend(signum: int) -> None:
    if _Stop.depth and not _Stop.raised:
        signal.pthread_kill(threading.main_thread().ident, signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Inside the block SIGINT and SIGTERM raise `Stopped` (exit status 130 or 143), once: a repeated signal
    (a terminal's Ctrl-C plus the parent passing it on) does not interrupt the clean-up of the first.

    A signal is handled at the next Python instruction of the main thread, wherever that is. Where Python
    ignores exceptions (a finalizer or callback run at that moment) the Stopped is not printed as "Exception
    ignored" and lost: it is raised again a moment later, and `raise_if_stopped()` raises it at safe points.
    A signal ignored when the block starts (SIG_IGN, a background job) stays ignored. Main thread only;
    elsewhere the block changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig, handler in saved.items():
        if handler is not signal.SIG_IGN:
            signal.signal(sig, _on_stop_signal)
    previous_hook = sys.unraisablehook
    if _Stop.depth == 0:
        sys.unraisablehook = _stop_unraisable(previous_hook)
    _Stop.depth += 1
    try:
        yield
    finally:
        _Stop.depth -= 1
        for sig, handler in saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        if _Stop.depth == 0:
            sys.unraisablehook = previous_hook
            _Stop.signum, _Stop.raised = None, False


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM inside the block (a second signal must not interrupt work given back half-way).
    Main thread only; elsewhere signals cannot be changed."""
    saved = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            saved[sig] = signal.signal(sig, signal.SIG_IGN)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def pass_on_signal(signum: int, processes: Iterable[Any] | None = None) -> list[Any]:
    """Send `signum` to `processes` (multiprocessing Process objects; default: every child this process started
    with multiprocessing) that still run, so a signal sent to a parent alone reaches its workers; returns them."""
    import multiprocessing

    alive = [p for p in (multiprocessing.active_children() if processes is None else processes) if p.is_alive()]
    for p in alive:
        with contextlib.suppress(ProcessLookupError, TypeError):  # TypeError: no pid (never started)
            os.kill(p.pid, signum)
    return alive


def end_processes(processes: Iterable[Any], timeout: float) -> None:
    """Wait up to `timeout` seconds in all for `processes` to end; kill (SIGKILL) those still running."""
    import time

    deadline = time.monotonic() + timeout
    for p in processes:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in processes:
        if p.is_alive():
            p.kill()
            p.join(5)
