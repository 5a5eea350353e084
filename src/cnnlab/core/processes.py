"""Processes: whether a pid is alive, and worker processes that never outlive their parent.

cnnlab starts worker processes in two places (the suites' process pool, the sweep's workers), both with
the "spawn" start method. When the parent is killed with SIGKILL nothing tells them: a pool worker
finishes its run and then blocks on its pipe forever. `exit_with_parent()`, called first thing in
every worker, closes that hole twice over:
  - Linux: prctl(PR_SET_PDEATHSIG, SIGKILL), so the kernel kills the worker the moment its parent
    exits (then a re-check of the parent pid covers a parent that died before the call);
  - everywhere: a daemon thread that polls the parent pid and ends the process when it changes
    (the worker was re-parented) or the parent is gone.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

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
