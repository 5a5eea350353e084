"""One HTTP(S) GET with a whole-request deadline, a byte limit, redirects and retries.

Built on http.client (no third-party dependency) so that the limits are exact: `timeout` bounds the
whole attempt (connect, headers and body, even for a server that trickles bytes), `stall` (optional)
each wait for the next bytes, and a body longer than `max_bytes` is refused without reading it all.
Proxies from the environment are not used. A body is kept in memory, or streamed into a `BodySink`
(large files: the AlexNet weights), which is restarted before each retry.

Statuses: ok, http_<code>, timeout, connection_error, dns_error, ssl_error, too_large,
too_many_redirects, bad_url, bad_response. Transient ones (timeout, connection resets, 5xx, 408,
429) are retried with exponential backoff; final answers (404, refused connection, DNS failure...)
are not.
"""

from __future__ import annotations

import functools
import http.client
import random
import socket
import ssl
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, urljoin, urlsplit

from cnnlab.core.errors import CnnlabError
from cnnlab.faces.facescrub.lists import check_url

USER_AGENT = "cnnlab-faces/0.1 (+FaceScrub downloader; research use)"
_REDIRECTS = {301, 302, 303, 307, 308}
_CHUNK = 1 << 16


@dataclass(frozen=True)
class FetchResult:
    status: str  # "ok" or a failure status (see module docstring)
    data: bytes | None  # the body when status == "ok"
    http_code: int | None
    detail: str
    attempts: int
    transient: bool = False  # whether another attempt could succeed


class BodySink(Protocol):
    """Where a streamed body goes: `write` each chunk; `restart` drops what was written (before a retry)."""

    def write(self, chunk: bytes) -> object: ...

    def restart(self) -> None: ...


def is_transient_code(code: int) -> bool:
    return code >= 500 or code in (408, 429)


class _Fail(Exception):
    def __init__(self, status: str, detail: str, transient: bool, code: int | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.transient, self.code = status, detail, transient, code


def _request_target(url: str) -> tuple[str, str, int | None, str]:
    """(scheme, host, port, path+query) with the path percent-encoded (lists hold raw URLs)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise _Fail("bad_url", f"bad host name ({exc})", False) from None
    safe = "/%:@!$&'()*+,;=-._~"
    target = quote(parts.path or "/", safe=safe)
    if parts.query:
        target += "?" + quote(parts.query, safe=safe + "?")
    return parts.scheme.lower(), host, parts.port, target


def _attempt(
    url: str,
    timeout: float,
    max_bytes: int,
    max_redirects: int,
    user_agent: str,
    stall: float | None = None,
    sink: BodySink | None = None,
) -> tuple[bytes, int]:
    deadline = time.monotonic() + timeout
    stall = stall or timeout
    for _ in range(max_redirects + 1):
        reason = check_url(url)
        if reason:
            raise _Fail("bad_url", reason, False)
        scheme, host, port, target = _request_target(url)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Fail("timeout", f"no answer within {timeout:g} s", True)
        if scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=min(remaining, stall), context=_ssl_context()
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=min(remaining, stall))
        try:
            conn.request(
                "GET",
                target,
                headers={
                    "User-Agent": user_agent,
                    "Accept": "image/*,*/*;q=0.5",
                    "Accept-Encoding": "identity",
                    "Connection": "close",
                },
            )
            sock = conn.sock  # kept: getresponse() may detach it from conn
            resp = conn.getresponse()
            if resp.status in _REDIRECTS and resp.getheader("Location"):
                url = urljoin(url, resp.getheader("Location", "").strip())
                continue
            if resp.status != 200:
                raise _Fail(
                    f"http_{resp.status}",
                    f"HTTP {resp.status} {resp.reason}".strip(),
                    is_transient_code(resp.status),
                    resp.status,
                )
            length = resp.getheader("Content-Length")
            if length and length.strip().isdigit() and int(length) > max_bytes:
                raise _Fail("too_large", f"Content-Length {int(length)} > {max_bytes} bytes", False, 200)
            encoding = (resp.getheader("Content-Encoding") or "identity").strip().lower()
            if sink is not None and encoding != "identity":  # asked for identity; a stream is not decoded
                raise _Fail("bad_response", f"{encoding} body although identity was asked for", False, 200)
            chunks: list[bytes] = []
            size = 0
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _Fail("timeout", f"body not complete within {timeout:g} s", True, 200)
                if resp.isclosed():  # whole body read: http.client has closed the socket
                    break
                if sock is not None:
                    sock.settimeout(min(remaining, stall))
                chunk = resp.read1(min(_CHUNK, max_bytes + 1 - size))  # one recv: the deadline holds
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raise _Fail("too_large", f"body over {max_bytes} bytes", False, 200)
                if sink is None:
                    chunks.append(chunk)
                else:
                    sink.write(chunk)
            if length and length.strip().isdigit() and size < int(length):
                # http.client returns b"" instead of raising when the peer closes early
                raise _Fail("connection_error", f"connection closed after {size} of {int(length)} bytes", True, 200)
            body = b"".join(chunks)
            if encoding in ("gzip", "x-gzip", "deflate"):  # sent although we asked for identity
                body = _decompress(body, encoding, max_bytes)
            return body, resp.status
        finally:
            conn.close()
    raise _Fail("too_many_redirects", f"more than {max_redirects} redirects", False)


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()  # loading CA certificates is slow: once per process


def _decompress(body: bytes, encoding: str, max_bytes: int) -> bytes:
    wbits = 16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS
    try:
        d = zlib.decompressobj(wbits)
        out = d.decompress(body, max_bytes + 1)  # bounded: a compression bomb stops here
    except zlib.error as exc:
        raise _Fail("bad_response", f"bad {encoding} body ({exc})", False, 200) from None
    if len(out) > max_bytes or d.unconsumed_tail:
        raise _Fail("too_large", f"decoded {encoding} body over {max_bytes} bytes", False, 200)
    return out


def fetch(
    url: str,
    *,
    timeout: float = 15.0,
    retries: int = 2,
    max_bytes: int = 20_000_000,
    backoff: float = 0.5,
    backoff_max: float = 30.0,
    max_redirects: int = 5,
    user_agent: str = USER_AGENT,
    sleep: Callable[[float], None] = time.sleep,
    stall: float | None = None,
    sink: BodySink | None = None,
) -> FetchResult:
    """GET `url`: up to 1 + `retries` attempts, sleeping backoff * 2**k (plus jitter) between them.

    `stall`: the longest wait for the next bytes (default: whatever is left of `timeout`). `sink`: the
    body is streamed into it (restarted before each attempt) and the result's data is None.
    """
    attempts = 0
    while True:
        attempts += 1
        try:
            if sink is not None:
                sink.restart()
            data, code = _attempt(url, timeout, max_bytes, max_redirects, user_agent, stall, sink)
            return FetchResult("ok", None if sink is not None else data, code, "", attempts)
        except _Fail as f:
            fail = f
        except CnnlabError:  # the sink's own failure (a full disk): not a network status
            raise
        except Exception as exc:  # noqa: BLE001 - every network error becomes a status
            fail = _classify(exc)
        if not fail.transient or attempts > retries:
            return FetchResult(fail.status, None, fail.code, fail.detail, attempts, fail.transient)
        delay = min(backoff_max, backoff * 2 ** (attempts - 1))
        sleep(delay * (1.0 + 0.25 * random.random()))


def _classify(exc: BaseException) -> _Fail:
    text = f"{type(exc).__name__}: {exc}".strip().rstrip(":")[:200]
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return _Fail("timeout", text, True)
    if isinstance(exc, socket.gaierror):
        return _Fail("dns_error", text, False)
    if isinstance(exc, ConnectionRefusedError):
        return _Fail("connection_error", f"connection refused ({exc})", False)
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return _Fail("ssl_error", text, False)
    if isinstance(exc, (ConnectionError, http.client.IncompleteRead, http.client.RemoteDisconnected)):
        return _Fail("connection_error", text, True)
    if isinstance(exc, (http.client.InvalidURL, UnicodeError, ValueError)):
        return _Fail("bad_url", text, False)
    if isinstance(exc, http.client.HTTPException):
        return _Fail("bad_response", text, False)
    if isinstance(exc, OSError):
        return _Fail("connection_error", text, True)
    return _Fail("connection_error", text, False)
