"""A real PostgreSQL server for the sweep tests, real `cnnlab sweep` worker processes against it, and a look at
any process's spawned workers (`spawned_children`).

`postgres_url` (session fixture): $CNNLAB_TEST_POSTGRES_URL if set (CI: .ci/postgres.sh starts the
server), else a throwaway cluster started here if the PostgreSQL binaries exist (initdb, pg_ctl; as the
`postgres` or `nobody` user when running as root, since the server refuses root), listening on 127.0.0.1
on a free port in a temporary folder, stopped at the end. Without a server the tests skip with the
reason, unless $CNNLAB_REQUIRE_POSTGRES=1 (CI), where they fail instead.

Worker processes get a `sitecustomize.py` (see `worker_env`) that slows every trial down by
CNNLAB_TEST_TRIAL_SLEEP seconds and drops a marker file per started trial, so a test can kill a worker
mid-trial for certain; CNNLAB_TEST_DIE_SLOT=<slot> makes every attempt of that trial slot kill its worker;
CNNLAB_TEST_FINALIZING=<folder> makes each trial first run a finalizer that marks <folder>/<pid> and sleeps
CNNLAB_TEST_FINALIZER_SLEEP seconds (a signal then lands where Python ignores exceptions).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PG_BIN_GLOBS = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin", "/usr/bin")

HOOK = '''
"""Test hook loaded by every worker process (tests/pg_helpers.py): slow trials, marker files, a dying slot."""
import os, signal, time
from pathlib import Path

import cnnlab.art.sweep.worker as _w

_suggest = _w.suggest_config


class _SlowFinalizer:
    """Run when dropped: marks <CNNLAB_TEST_FINALIZING>/<pid>, then sleeps in the finalizer (a signal lands there)."""

    def __del__(self):
        Path(os.environ["CNNLAB_TEST_FINALIZING"], str(os.getpid())).touch()
        time.sleep(float(os.environ.get("CNNLAB_TEST_FINALIZER_SLEEP", "3")))


def _slow_suggest(trial, base):
    config = _suggest(trial, base)  # an invalid draw is pruned as usual; a valid one has all its parameters now
    if os.environ.get("CNNLAB_TEST_FINALIZING"):
        _SlowFinalizer()  # dropped at once: its finalizer runs here
    slot = trial.user_attrs.get("slot")
    marks = os.environ.get("CNNLAB_TEST_MARKS")
    if marks:
        Path(marks, f"{os.getpid()}-{trial.number}").write_text(str(slot))
    if os.environ.get("CNNLAB_TEST_DIE_SLOT") == str(slot):
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(float(os.environ.get("CNNLAB_TEST_TRIAL_SLEEP", "0")))
    return config


_w.suggest_config = _slow_suggest

import cnnlab.art.sweep.batch as _b

_fit = _b.fit_trial


def _slow_fit(task, config, pruning):
    """The same for a batched study's trainings, which run apart from their sampling (sweep.batch)."""
    marks = os.environ.get("CNNLAB_TEST_MARKS")
    if marks:
        Path(marks, f"{os.getpid()}-{task.number}").write_text("batch")
    time.sleep(float(os.environ.get("CNNLAB_TEST_TRIAL_SLEEP", "0")))
    return _fit(task, config, pruning)


_b.fit_trial = _slow_fit
'''


def _find_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for pattern in PG_BIN_GLOBS:
        for folder in sorted(glob.glob(pattern), reverse=True):
            if os.access(os.path.join(folder, name), os.X_OK):
                return os.path.join(folder, name)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_user() -> list[str]:
    """The command prefix that drops root (PostgreSQL refuses to run as root); [] when not root."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    for user in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(user)
            if runuser:
                return [runuser, "-u", user, "--"]
    raise RuntimeError("running as root without runuser and a postgres or nobody user to run the server as")


@contextlib.contextmanager
def throwaway_cluster():
    """Start a tiny PostgreSQL cluster in a temporary folder on 127.0.0.1; yields its URL (database cnnlab_test)."""
    initdb, pg_ctl = _find_bin("initdb"), _find_bin("pg_ctl")
    if not (initdb and pg_ctl):
        raise FileNotFoundError(
            "no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin"
        )
    prefix = _as_user()
    folder = Path(tempfile.mkdtemp(prefix="cnnlab-pg-"))
    password = secrets.token_hex(8)
    (folder / "pw").write_text(password + "\n")
    if prefix:
        user = prefix[2]
        uid, gid = pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid
        for path in (folder, folder / "pw"):
            os.chown(path, uid, gid)
    data, port = folder / "data", _free_port()

    def run(cmd: list[str]) -> None:
        subprocess.run(prefix + cmd, check=True, capture_output=True, text=True, timeout=120)

    run(
        [
            initdb,
            "-D",
            str(data),
            "-U",
            "cnnlab",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            f"--pwfile={folder / 'pw'}",
            "-E",
            "UTF8",
            "--no-instructions",
        ]
    )
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c shared_buffers=16MB -c max_connections=60"
    )
    try:
        run([pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "-t", "60", "start"])
        import psycopg

        with psycopg.connect(f"postgresql://cnnlab:{password}@127.0.0.1:{port}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE cnnlab_test")
        yield f"postgresql://cnnlab:{password}@127.0.0.1:{port}/cnnlab_test"
    finally:
        with contextlib.suppress(Exception):
            run([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url():
    """The URL of a real PostgreSQL database for the tests (see the module docstring)."""
    url = os.environ.get("CNNLAB_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    required = os.environ.get("CNNLAB_REQUIRE_POSTGRES") == "1"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        (pytest.fail if required else pytest.skip)("psycopg is not installed (pip install -e '.[postgres]')")
    try:
        cluster = throwaway_cluster()
        url = cluster.__enter__()
    except (FileNotFoundError, RuntimeError, subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        (pytest.fail if required else pytest.skip)(f"no PostgreSQL server for the tests: {exc} {detail.strip()[-300:]}")
    try:
        yield url
    finally:
        cluster.__exit__(None, None, None)


def worker_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Environment of a worker process: this checkout's source first, the test hook, the given variables."""
    hook = tmp_path / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(HOOK)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNNLAB_TEST_")}
    env["PYTHONPATH"] = os.pathsep.join([str(hook), str(REPO / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(OMP_NUM_THREADS="1", **extra)
    return env


def start_worker(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """`python -m cnnlab sweep ARGS` as a separate process (as on another host), output to `log`."""
    out = open(log, "ab")  # noqa: SIM115 - closed with the process by the caller's wait
    return subprocess.Popen(
        [sys.executable, "-m", "cnnlab", "sweep", *args],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=str(log.parent),
    )


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    """Poll `predicate()` until it returns a truthy value; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def spawned_children(parent: int) -> set[int]:
    """Pids of the multiprocessing spawn workers whose parent is `parent` (Linux /proc)."""
    out = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[-1].split()[1])
            if ppid == parent and b"spawn_main" in (entry / "cmdline").read_bytes():
                out.add(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def marks(folder: Path) -> list[tuple[int, int]]:
    """(pid, trial number) of every trial started so far, from the hook's marker files."""
    return [tuple(int(x) for x in p.name.split("-")) for p in folder.iterdir()] if folder.is_dir() else []


def stop(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """End a worker process that a failing test left running."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        proc.wait(timeout=30)
