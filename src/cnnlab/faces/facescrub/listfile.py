"""Reading a list file as text lines, streamed, with random access to any line by its byte offset.

Only regular files are lists: a FIFO would block the open or the read forever, and /dev/zero or a
socket never ends, so they are refused (by `fstat`, after a non-blocking open) with one line.
Files are capped at `MAX_LIST_BYTES` and lines at `MAX_LINE_BYTES`, so memory stays bounded.

Encodings: UTF-8 (with or without a byte-order mark) and UTF-16 (LE or BE, with its byte-order
mark); anything else is a DataError saying what is expected. Lines end at "\\n" (an "\\r" before it
is dropped) and nowhere else: `str.splitlines` would also split at U+2028, U+0085, form feeds and
\\x1c-\\x1e, which can occur inside a field.
"""

from __future__ import annotations

import codecs
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cnnlab.core.errors import DataError

MAX_LIST_BYTES = 1 << 30  # the FaceScrub lists are ~20 MB; a bigger "list" is a mistake
MAX_LINE_BYTES = 1 << 20  # a FaceScrub line is ~200 bytes
_CHUNK = 1 << 16
_EXPECTED = "list files must be UTF-8 text, or UTF-16 with a byte-order mark"
# (byte-order mark, codec, encoded "\n"); UTF-32 marks first: ff fe 00 00 starts with the UTF-16-LE one
_BOMS = (
    (codecs.BOM_UTF32_LE, None, b""),
    (codecs.BOM_UTF32_BE, None, b""),
    (codecs.BOM_UTF8, "utf-8", b"\n"),
    (codecs.BOM_UTF16_LE, "utf-16-le", b"\n\x00"),
    (codecs.BOM_UTF16_BE, "utf-16-be", b"\x00\n"),
)


class ListFile:
    """An open list file: `lines()` streams it, `line_at(offset)` reads one line again.

    Raises DataError (one line) for a missing, special, oversized or wrongly encoded file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = self.path.name
        self._file = _open_regular(self.path)
        try:
            self.encoding, self._start, self._newline = self._detect()
        except BaseException:
            self._file.close()
            raise
        self._unit = len(self._newline)
        self._stamp = self._fingerprint()

    def __enter__(self) -> ListFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def _fingerprint(self) -> tuple[int, int, int]:
        st = os.fstat(self._file.fileno())
        return st.st_ino, st.st_size, st.st_mtime_ns

    def check_unchanged(self) -> None:
        """DataError if the file was rewritten since it was opened (line offsets would be stale)."""
        if self._fingerprint() != self._stamp:
            raise DataError(f"list file {self.path} changed while it was being read")

    def _detect(self) -> tuple[str, int, bytes]:
        head = self._file.read(4)
        for bom, codec, newline in _BOMS:
            if head.startswith(bom):
                if codec is None:
                    raise DataError(f"{self.path} is UTF-32 text; {_EXPECTED}")
                return codec, len(bom), newline
        self._file.seek(0)
        if b"\x00" in self._file.read(4096):
            raise DataError(f"{self.path} has NUL bytes (UTF-16 without a byte-order mark?); {_EXPECTED}")
        return "utf-8", 0, b"\n"

    def _decode(self, raw: bytes, where: str) -> str:
        try:
            text = raw.decode(self.encoding)
        except UnicodeDecodeError:
            raise DataError(f"{where} is not valid {self.encoding.upper()}; {_EXPECTED}") from None
        return text[:-1] if text.endswith("\r") else text

    def lines(self) -> Iterator[tuple[int, int, str]]:
        """(line number from 1, byte offset, text without its line end) for every line, blank ones too."""
        for lineno, (offset, raw) in enumerate(self._raw_lines(self._start), start=1):
            yield lineno, offset, self._decode(raw, f"{self.path}:{lineno}")

    def line_at(self, offset: int) -> str:
        """The line starting at byte `offset` (an offset given by `lines`); `lines` may be running."""
        for _offset, raw in self._raw_lines(offset, chunk=1024):
            return self._decode(raw, f"{self.path} at byte {offset}")
        raise DataError(f"{self.path}: no line at byte {offset} (was the file changed?)")

    def _raw_lines(self, start: int, chunk: int = _CHUNK) -> Iterator[tuple[int, bytes]]:
        """(offset, bytes without the newline); the newline is matched on code-unit boundaries only."""
        f, newline, unit = self._file, self._newline, self._unit
        buf, pos, base = b"", 0, start  # buf[pos:] holds the bytes from file offset `base` on
        read_at = start  # own position: `line_at` may seek the shared file between two reads
        while True:
            i = buf.find(newline, pos)
            while i >= 0 and (i - pos) % unit:  # e.g. the "\n\x00" inside "\u0a41\u0000" in UTF-16-LE
                i = buf.find(newline, i + 1)
            if i >= 0:
                yield base, buf[pos:i]
                base += i + unit - pos
                pos = i + unit
                continue
            f.seek(read_at)  # cheap when the position is inside the reader's buffer
            data = f.read(chunk)
            read_at += len(data)
            if not data:
                if pos < len(buf):
                    yield base, buf[pos:]
                return
            buf = buf[pos:] + data
            pos = 0
            if len(buf) > MAX_LINE_BYTES + _CHUNK:
                raise DataError(f"{self.path}: a line near byte {base} is longer than {MAX_LINE_BYTES} bytes")


def _open_regular(path: Path) -> BinaryIO:
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)  # non-blocking: opening a FIFO must not wait for a writer
    except FileNotFoundError:
        raise DataError(f"list file not found: {path}") from None
    except IsADirectoryError:
        raise DataError(f"list file is a directory: {path}") from None
    except OSError as exc:
        raise DataError(f"cannot read list file {path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise DataError(f"list file is a directory: {path}")
        if not stat.S_ISREG(st.st_mode):
            raise DataError(f"list file {path} is not a regular file (a FIFO, device or socket cannot be a list)")
        if st.st_size > MAX_LIST_BYTES:
            raise DataError(
                f"list file {path} has {st.st_size} bytes, over the limit of {MAX_LIST_BYTES} "
                f"(a FaceScrub list is about 20 MB)"
            )
        if flags & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=_CHUNK)
    except BaseException:
        os.close(fd)
        raise
