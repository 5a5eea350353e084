"""Storage for sweeps: opening Optuna storages from URLs, and claiming trials safely across processes.

URLs: "sqlite:///file.db" (embedded; the default is runs/optuna.db), any SQLAlchemy URL such as
"postgresql://user:password@host/db" (several machines), or a path ending .log/.journal (an Optuna
journal file; several machines need a shared file system with working locks). Passwords never appear
in messages.

Claiming: a worker only ever runs trials it moved from WAITING to RUNNING. PostgreSQL and MySQL lock
the row (SELECT ... FOR UPDATE) and journal files order the claims in the log, so one claimant wins;
SQLite has no row locks, so claims on an SQLite file are serialised with an flock (`claim_lock`).
On RDB storages each running trial records a heartbeat every HEARTBEAT[0] s; a trial without one for
HEARTBEAT[1] s is failed by the next worker that looks and queued again with the same parameters.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Any, Iterator

from cnnlab.core.errors import CnnlabError, clip, first_line, shorten

log = logging.getLogger(__name__)

HEARTBEAT = (60, 180)  # RDB storages: heartbeat interval, seconds without one before a trial is stale
_DRIVER_PACKAGES = {"psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary", "pymysql": "pymysql", "MySQLdb": "mysqlclient"}
_URL_HINT = "expected sqlite:///file.db, postgresql://user:password@host/db or a file ending .log/.journal"


def default_storage(out_root: str | os.PathLike) -> str:
    """The embedded default: sqlite:///<out_root>/optuna.db (absolute path)."""
    return f"sqlite:///{Path(out_root).resolve() / 'optuna.db'}"


def redact(url: str) -> str:
    """The storage URL with any password replaced by ***, for messages."""
    if "://" not in url:
        return url
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL (a port that is not a number): mask what looks like a password
        scheme, rest = url.split("://", 1)
        userinfo, at, host = rest.rpartition("@")
        return f"{scheme}://{userinfo.split(':', 1)[0]}{':***' if ':' in userinfo else ''}{at}{host}" if at else url


def dashboard_command(url: str) -> str:
    """The shell line that opens the study's storage in optuna-dashboard (password shown as ***)."""
    import shlex

    return f"optuna-dashboard {shlex.quote(redact(url))}"


def open_storage(url: str, heartbeat: bool = True) -> Any:
    """An Optuna storage for `url`: "sqlite:///f.db", "postgresql://user:pw@host/db" or "path.log".

    Raises CnnlabError (one line, password hidden) for a malformed URL, a missing driver, an
    unreachable database or a storage file in a folder that does not exist.
    """
    if not isinstance(url, str) or not url.strip():
        raise CnnlabError("empty storage URL")
    url = url.strip()
    if "://" not in url and url.endswith((".log", ".journal")):
        return _open_journal(Path(url).expanduser())
    if "://" not in url:
        raise CnnlabError(f"malformed storage URL {shorten(url)}: {_URL_HINT}")
    return _open_database(url, heartbeat)


def _open_journal(path: Path) -> Any:
    """A journal-file storage (no database server; one file that workers append to)."""
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if not path.parent.is_dir():
        raise CnnlabError(f"folder of journal storage {path} does not exist")
    try:
        return JournalStorage(JournalFileBackend(str(path)))
    except OSError as exc:
        raise CnnlabError(f"cannot open journal storage {path}: {exc.strerror or exc}") from None


def _open_database(url: str, heartbeat: bool) -> Any:
    """An RDBStorage for a SQLAlchemy URL, with heartbeats (stale trials re-queued) unless told otherwise."""
    import optuna
    from sqlalchemy import exc as sa_exc
    from sqlalchemy.engine import make_url

    shown = redact(url)
    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise CnnlabError(f"malformed storage URL {clip(shown)!r}: {_URL_HINT}") from None
    engine_kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise CnnlabError(f"storage {shown!r} is an in-memory database that workers cannot share; name a file")
        if not Path(parsed.database).expanduser().resolve().parent.is_dir():
            raise CnnlabError(f"folder of SQLite storage {parsed.database} does not exist")
        engine_kwargs["connect_args"] = {"timeout": 60}  # several processes: wait for locks, not fail
    else:
        engine_kwargs["pool_pre_ping"] = True  # survive server-side idle disconnects in long trials
    beat: dict[str, Any] = {}
    if heartbeat:
        beat = dict(heartbeat_interval=HEARTBEAT[0], grace_period=HEARTBEAT[1], heartbeat_stale_trial_callback=requeue_stale)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **beat)
    except ImportError as exc:
        # Optuna re-raises the driver's ImportError; SQLAlchemy >= 2.1 drives postgresql:// with psycopg 3.
        missing = getattr(exc.__cause__, "name", None) or exc.name or ""
        package = _DRIVER_PACKAGES.get(missing.split(".")[0], missing or "the database driver")
        raise CnnlabError(f"storage {shown!r} needs the Python module {missing or '?'}: pip install {package!r}") from None
    except sa_exc.NoSuchModuleError:
        raise CnnlabError(f"unsupported storage URL scheme {parsed.drivername!r}: {_URL_HINT}") from None
    except (sa_exc.ArgumentError, ValueError) as exc:  # e.g. a port out of range, found on connecting
        reason = first_line(exc).replace(str(parsed.password), "***") if parsed.password else first_line(exc)
        raise CnnlabError(f"malformed storage URL {clip(shown)!r}: {reason}") from None
    except sa_exc.SQLAlchemyError as exc:
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        if parsed.password:
            reason = reason.replace(str(parsed.password), "***")
        raise CnnlabError(f"cannot use storage {shown!r}: {reason}") from None


def requeue_stale(study: Any, trial: Any) -> None:
    """Heartbeat callback: a worker died during `trial` (now FAIL); queue the same parameters again."""
    log.warning("trial %d lost its worker (no heartbeat); queued again", trial.number)
    study.enqueue_trial(trial_params(trial), user_attrs=retry_attrs(trial))


def retry_attrs(trial: Any) -> dict:
    """User attributes of a trial queued to replace `trial`: same slot (sampler seed), next attempt."""
    return {"replaces": trial.number, "slot": trial.user_attrs.get("slot", trial.number),
            "attempt": trial.user_attrs.get("attempt", 0) + 1}


def trial_params(trial: Any) -> dict:
    """The parameters a retry of `trial` must reuse: those it drew plus those it was queued with."""
    return {**trial.system_attrs.get("fixed_params", {}), **trial.params}


@contextlib.contextmanager
def claim_lock(url: str) -> Iterator[None]:
    """SQLite has no SELECT ... FOR UPDATE, so two processes can pop the same WAITING trial: serialise
    claims with an flock on <db>.claim-lock. (PostgreSQL/MySQL lock the row; journal files order the log.)"""
    path = None
    if url.startswith("sqlite:"):
        from sqlalchemy.engine import make_url

        database = make_url(url).database
        path = Path(database).expanduser().resolve().with_name(Path(database).name + ".claim-lock") if database else None
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
    """Set one WAITING trial to RUNNING (the storage lets one worker win each): (number, id), or None."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    for frozen in store.get_all_trials(study_id, deepcopy=False, states=(TrialState.WAITING,)):
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
