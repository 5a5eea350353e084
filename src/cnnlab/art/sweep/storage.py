"""Storage for sweeps: opening Optuna storages from URLs, and claiming trials safely across processes.

URLs: "sqlite:///file.db" (embedded; the default is runs/optuna.db), any SQLAlchemy URL such as
"postgresql://user:password@host/db" (several machines), or a path ending .log/.journal (an Optuna
journal file; several machines need a shared file system with working locks). Passwords never appear
in messages.

Claiming: a worker only ever runs trials it moved from WAITING to RUNNING, and only the worker whose
RUNNING -> FAIL change of a lost trial succeeded queues its retry. Each state change is a transaction
that one claimant wins: PostgreSQL and MySQL lock the row (SELECT ... FOR UPDATE), SQLite workers begin
every transaction IMMEDIATE (the database's write lock; `_immediate_transactions`), and journal files
order the changes in the log. Claims on an SQLite file are also serialised with an flock (`claim_lock`).
On RDB storages each running trial records a heartbeat every `Liveness.interval` s; a trial without one
for `Liveness.grace` s is failed by the next worker that looks and queued again with the same parameters
(at most `Liveness.max_retry` times; sweep.lifecycle). Journal files have no heartbeats.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from cnnlab.art.sweep.lifecycle import RetryLostTrial
from cnnlab.core.errors import CnnlabError, clip, first_line, shorten

log = logging.getLogger(__name__)

HEARTBEAT = (30, 120)  # RDB storages: default heartbeat interval, seconds without one before a trial is stale
MAX_RETRY = 2  # default: times a trial whose worker died is run again before it is failed for good
CONNECT_TIMEOUT = 10  # seconds to wait for a PostgreSQL server before giving up (default TCP: minutes)
_SECRET_KEYS = re.compile(r"(?i)([?&](?:password|passwd|pwd|secret|token|sslpassword)=)[^&#]*")


@dataclass(frozen=True)
class Liveness:
    """How workers notice each other's death: heartbeat interval and grace period (seconds), and how many
    times a trial whose worker died is run again. A lost trial waits about `grace` (+ one poll) seconds."""

    interval: int = HEARTBEAT[0]
    grace: int = HEARTBEAT[1]
    max_retry: int = MAX_RETRY

    def __post_init__(self) -> None:
        for name in ("interval", "grace"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CnnlabError(
                    f"--{'heartbeat-interval' if name == 'interval' else 'grace-period'} must be a positive "
                    f"number of seconds, got {value!r}"
                )
        if self.grace <= self.interval:
            raise CnnlabError(
                f"--grace-period ({self.grace} s) must be longer than --heartbeat-interval ({self.interval} s), "
                "or live trials look dead between two heartbeats"
            )
        if isinstance(self.max_retry, bool) or not isinstance(self.max_retry, int) or self.max_retry < 0:
            raise CnnlabError(f"--max-retry must be a non-negative integer, got {self.max_retry!r}")


_DRIVER_PACKAGES = {
    "psycopg": "psycopg[binary]",
    "psycopg2": "psycopg2-binary",
    "pymysql": "pymysql",
    "MySQLdb": "mysqlclient",
}
_URL_HINT = "expected sqlite:///file.db, postgresql://user:password@host/db or a file ending .log/.journal"


def default_storage(out_root: str | os.PathLike) -> str:
    """The embedded default: sqlite:///<out_root>/optuna.db (absolute path)."""
    return f"sqlite:///{Path(out_root).resolve() / 'optuna.db'}"


def mask_url(url: str) -> str:
    """`url` with its password (and any password=... query value) replaced by ***: for every message.

    Works on the raw text, not on a parser's reading of it, so even a URL that no parser accepts (an
    unencoded @ or / in the password) shows nothing of the password: everything between the user name
    and the last @ is masked. Paths without "://" (journal files) are returned as they are.
    """
    if not isinstance(url, str) or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    at = rest.rfind("@")
    if at >= 0:
        userinfo = rest[:at]
        user = userinfo.split(":", 1)[0]
        rest = (f"{user}:***" if ":" in userinfo else user) + rest[at:]
    return f"{scheme}://{_SECRET_KEYS.sub(lambda m: m.group(1) + '***', rest)}"


redact = mask_url  # the older name


def _raw_password(url: str) -> str | None:
    """The password as written in `url` (between the first ':' of the user info and the last '@'), decoded."""
    rest = url.split("://", 1)[1] if "://" in url else ""
    at = rest.rfind("@")
    if at < 0 or ":" not in rest[:at]:
        return None
    return unquote(rest[:at].split(":", 1)[1])


def dashboard_command(url: str) -> str:
    """The shell line that opens the study's storage in optuna-dashboard (password shown as ***)."""
    import shlex

    return f"optuna-dashboard {shlex.quote(mask_url(url))}"


def open_storage(url: str, heartbeat: bool | Liveness = True) -> Any:
    """An Optuna storage for `url`: "sqlite:///f.db", "postgresql://user:pw@host/db" or "path.log".

    `heartbeat`: a Liveness (True: the defaults) turns on RDB heartbeats, stale-trial failing and retries;
    False opens the storage to read it. Raises CnnlabError (one line, password hidden) for a malformed URL,
    an unknown scheme, a missing driver, a refused connection, bad credentials, a missing database or a
    storage file in a folder that does not exist.
    """
    if not isinstance(url, str) or not url.strip():
        raise CnnlabError("empty storage URL")
    url = url.strip()
    if "://" not in url and url.endswith((".log", ".journal")):
        return _open_journal(Path(url).expanduser(), create=bool(heartbeat))
    if "://" not in url:
        raise CnnlabError(f"malformed storage URL {shorten(url)}: {_URL_HINT}")
    return _open_database(url, heartbeat)


def _storage_file(path: Path, what: str, create: bool) -> None:
    """Check the file of a journal or SQLite storage before Optuna opens it: its folder exists, and the file
    is a regular file (a FIFO would hang the reader, /dev/zero grow it without end) or, when `create`, not
    there yet. Reading a storage (`sweep --show`) never creates an empty one."""
    from cnnlab.core.readback import MAX_BYTES, regular_file

    if not path.parent.is_dir():
        raise CnnlabError(f"folder of {what} {path} does not exist")
    try:
        size = regular_file(path, f"{what} {path}").stat().st_size
    except FileNotFoundError:
        if not create:
            raise CnnlabError(f"{what} {path} does not exist") from None
        return
    except OSError as exc:
        raise CnnlabError(f"cannot open {what} {path}: {exc.strerror or exc}") from None
    if what.startswith("journal") and size > MAX_BYTES["text"]:
        raise CnnlabError(f"{what} {path} is {size:,} bytes, over the limit of {MAX_BYTES['text']:,}")


def _open_journal(path: Path, create: bool = True) -> Any:
    """A journal-file storage (no database server; one file that workers append to)."""
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    _storage_file(path, "journal storage", create)
    try:
        return JournalStorage(JournalFileBackend(str(path)))
    except OSError as exc:
        raise CnnlabError(f"cannot open journal storage {path}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        # Optuna replays the whole log on opening: a line that is not JSON (JSONDecodeError is a
        # ValueError) or not an Optuna operation fails here, as a damaged or foreign file.
        raise CnnlabError(
            f"journal storage {path} is damaged or not an Optuna journal: {first_line(exc, with_type=True)}"
        ) from None


def _open_database(url: str, heartbeat: bool | Liveness) -> Any:
    """An RDBStorage for a SQLAlchemy URL, with heartbeats (stale trials re-queued) unless told otherwise."""
    from sqlalchemy import exc as sa_exc
    from sqlalchemy.engine import make_url

    shown = mask_url(url)
    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise CnnlabError(f"malformed storage URL {clip(shown)!r}: {_URL_HINT}") from None
    raw = _raw_password(url)
    if raw is not None and parsed.password != raw:
        raise CnnlabError(
            f"malformed storage URL {clip(shown)!r}: percent-encode @ : / ? # in the password (%40 for @)"
        )
    engine_kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise CnnlabError(f"storage {shown!r} is an in-memory database that workers cannot share; name a file")
        _storage_file(Path(parsed.database).expanduser().resolve(), "SQLite storage", create=bool(heartbeat))
        engine_kwargs["connect_args"] = {"timeout": 60}  # several processes: wait for locks, not fail
        if heartbeat:  # a worker: its transactions take the write lock when they begin (_immediate_transactions)
            engine_kwargs["connect_args"]["isolation_level"] = None
    else:
        engine_kwargs["pool_pre_ping"] = True  # survive server-side idle disconnects in long trials
        if parsed.get_backend_name() == "postgresql":
            engine_kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
    beat: dict[str, Any] = {}
    if heartbeat:
        live = heartbeat if isinstance(heartbeat, Liveness) else Liveness()
        beat = dict(
            heartbeat_interval=live.interval,
            grace_period=live.grace,
            heartbeat_stale_trial_callback=RetryLostTrial(live.max_retry, live.grace),
        )
    import optuna

    try:
        store = _rdb_storage(url, engine_kwargs, beat)
        if parsed.get_backend_name() == "sqlite" and heartbeat:
            _immediate_transactions(store.engine)
        store.get_all_studies()  # an unrelated database with a `studies` table fails here, not mid-sweep
        return store
    except RuntimeError as exc:  # Optuna's schema check: tables of another Optuna version
        log.debug("schema check: %s", exc)
        raise CnnlabError(
            f"storage {shown!r} holds Optuna tables of a schema version that Optuna {optuna.__version__} "
            "cannot use; use another storage (an older one can be upgraded: optuna storage upgrade --storage URL)"
        ) from None
    except optuna.exceptions.StorageInternalError as exc:  # wraps the SQLAlchemy error: not Optuna's tables
        cause = exc.__cause__
        reason = first_line(getattr(cause, "orig", None) or cause or exc)
        for secret in {str(parsed.password or ""), raw or ""} - {""}:
            reason = reason.replace(secret, "***")
        raise CnnlabError(f"storage {shown!r} is not an Optuna storage or is damaged: {reason}") from None
    except ImportError as exc:
        # Optuna re-raises the driver's ImportError; SQLAlchemy >= 2.1 drives postgresql:// with psycopg 3.
        missing = getattr(exc.__cause__, "name", None) or exc.name or ""
        package = _DRIVER_PACKAGES.get(missing.split(".")[0], missing or "the database driver")
        raise CnnlabError(
            f"storage {shown!r} needs the Python module {missing or '?'}: pip install {package!r}"
        ) from None
    except sa_exc.NoSuchModuleError:
        raise CnnlabError(f"unsupported storage URL scheme {parsed.drivername!r}: {_URL_HINT}") from None
    except (sa_exc.ArgumentError, ValueError) as exc:  # e.g. a port out of range, found on connecting
        reason = first_line(exc).replace(str(parsed.password), "***") if parsed.password else first_line(exc)
        raise CnnlabError(f"malformed storage URL {clip(shown)!r}: {reason}") from None
    except sa_exc.SQLAlchemyError as exc:
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        for secret in {str(parsed.password or ""), raw or ""} - {""}:
            reason = reason.replace(secret, "***")
        raise CnnlabError(f"cannot use storage {shown!r}: {reason}") from None


def _rdb_storage(url: str, engine_kwargs: dict, beat: dict, attempts: int = 6) -> Any:
    """optuna.storages.RDBStorage(url), retried when workers that start together on an empty database race
    to create Optuna's tables (PostgreSQL: "duplicate key value violates unique constraint", "already exists")."""
    import random
    import time

    import optuna
    from sqlalchemy import exc as sa_exc

    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **beat)
        except (sa_exc.IntegrityError, sa_exc.ProgrammingError) as exc:
            text = str(getattr(exc, "orig", exc))
            if attempt == attempts - 1 or not ("duplicate key" in text or "already exists" in text):
                raise
            log.debug("another worker is creating the storage's tables; trying again (%s)", text.splitlines()[0])
            time.sleep(0.2 + random.random())
    raise AssertionError("unreachable")  # pragma: no cover


def _immediate_transactions(engine: Any) -> None:
    """Make every transaction on this SQLite engine BEGIN IMMEDIATE: it takes the database's write lock when it
    begins, so a read-check-write such as Optuna's state change (read the trial FOR UPDATE, check it is not
    finished, write the new state) is atomic across processes, as FOR UPDATE makes it on PostgreSQL.

    Without it, pysqlite begins a transaction only at the first write: two workers that find the same
    trial stale both read RUNNING, both set FAIL, both succeed, and each queues a retry (issue 30: "5 of 4
    trials finished"). With it, the second one finds the trial failed already (UpdateFinishedTrialError),
    so only the worker whose transition won runs `RetryLostTrial`. The engine's connections are opened with
    isolation_level=None (pysqlite emits no BEGIN of its own); SQLAlchemy's "begin" event emits this one."""
    from sqlalchemy import event

    def begin_immediate(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(engine, "begin", begin_immediate)


@contextlib.contextmanager
def claim_lock(url: str) -> Iterator[None]:
    """SQLite has no SELECT ... FOR UPDATE, so two processes can pop the same WAITING trial: serialise
    claims with an flock on <db>.claim-lock. (PostgreSQL/MySQL lock the row; journal files order the log.)"""
    path = None
    if url.startswith("sqlite:"):
        from sqlalchemy.engine import make_url

        database = make_url(url).database
        path = (
            Path(database).expanduser().resolve().with_name(Path(database).name + ".claim-lock") if database else None
        )
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no flock; use a journal file or PostgreSQL there
        path = None
    if path is None:
        yield
        return
    with open(path, "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def claim(store: Any, study_id: int) -> tuple[int, int] | None:
    """Set one WAITING trial to RUNNING (the storage lets one worker win each), re-queued copies first:
    (number, id), or None."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    waiting = store.get_all_trials(study_id, deepcopy=False, states=(TrialState.WAITING,))
    # Copies of lost or stopped trials first: a lost trial runs again as soon as a worker is free.
    for frozen in sorted(waiting, key=lambda t: ("replaces" not in t.user_attrs, t.number)):
        trial_id = store.get_trial_id_from_study_id_trial_number(study_id, frozen.number)
        try:
            if not store.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                continue
        except UpdateFinishedTrialError:
            continue
        if getattr(store, "get_heartbeat_interval", lambda: None)():
            store.record_heartbeat(trial_id)  # at once: a trial without any heartbeat is never found stale
        return frozen.number, trial_id
    return None


@contextlib.contextmanager
def heartbeat_thread(store: Any, trial_id: int) -> Iterator[None]:
    """Record the trial's heartbeat every interval while it runs (RDB storages with heartbeat on)."""
    interval = store.get_heartbeat_interval() if hasattr(store, "get_heartbeat_interval") else None
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            try:
                store.record_heartbeat(trial_id)
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried; the trial goes on
                log.warning("heartbeat of trial id %d failed: %s", trial_id, exc)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
