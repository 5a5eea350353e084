"""Helpers for tests of the command line: what a bad input must look like on stderr."""

from __future__ import annotations


def one_line_error(capsys, code: int) -> str:
    """The one `cnnlab: error: ...` line of a command that exited `code` (which must be 2), no traceback."""
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cnnlab: error: ") and "Traceback" not in err, err
    return lines[0]
