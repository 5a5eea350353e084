"""User-facing errors.

Any problem caused by the user's input (a missing file, a malformed config, a bad list) raises
`CnnlabError`; the CLI turns it into one line on stderr and exit status 2, never a traceback.
"""

import errno


class CnnlabError(Exception):
    """A problem with the user's input: reported as one line, exit status 2."""


class ConfigError(CnnlabError, ValueError):
    """An invalid configuration value, YAML file or override."""


class DataError(CnnlabError):
    """Missing, empty or unusable data."""


class OutputError(CnnlabError, OSError):
    """An output that cannot be written: a full disk or quota, a read-only folder, an --out that is a file
    (an OSError too, so that code which tolerates a failed write, e.g. of a cache, still does)."""


WRITE_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES)  # the environment, not a bug


def write_failure(exc: BaseException | None) -> OSError | None:
    """The OSError behind a failed write that the environment caused (a full disk, a file size limit, a
    quota, a read-only or forbidden folder), found in `exc` or the exceptions it was raised from
    (torch.save reports a full disk as a RuntimeError raised while handling it); else None."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS:
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def first_line(exc: BaseException, limit: int = 160, with_type: bool = False) -> str:
    """The first non-empty line of `exc`'s message (at most `limit` characters), else its type name;
    `with_type`: "TypeName: line" (just "TypeName" for an empty message).

    Never fails: for one-line error messages built from any exception, even one with an empty message.
    """
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - a broken __str__ must not break the error handler
        text = ""
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    name = type(exc).__name__
    if not line:
        return name
    return f"{name}: {line[:limit]}" if with_type else line[:limit]


SHORT_LIMIT = 80  # characters of a user value quoted in an error message


def shorten(value: object, limit: int = SHORT_LIMIT) -> str:
    """`value`'s repr for an error message, at most `limit` characters (cut with "…").

    Bounded in time and memory whatever `value` is: long strings, huge integers and deep or long
    containers (a YAML alias bomb) are abbreviated by `reprlib` before anything is joined.
    """
    import reprlib

    short = reprlib.Repr()
    short.maxlevel, short.maxstring, short.maxother, short.maxlong = 3, limit, limit, limit
    short.maxlist = short.maxtuple = short.maxdict = short.maxset = short.maxfrozenset = 8
    try:
        text = short.repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not break the error message
        text = f"<{type(value).__name__}>"
    return clip(text, limit)


def clip(text: str, limit: int = SHORT_LIMIT) -> str:
    """`text` on one line, at most `limit` characters (cut with "…"): for unquoted user text in messages."""
    text = str(text)[: limit * 4]
    text = " ".join(text.split()) if "\n" in text or "\r" in text else text
    return text if len(text) <= limit else text[: limit - 1] + "…"
