"""Test helpers for the faces package: a real HTTP server on 127.0.0.1 and generated images."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import signal
import socket
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_image(seed: int, size: tuple[int, int] = (64, 48), fmt: str = "JPEG", mode: str = "RGB") -> bytes:
    """A small deterministic picture (smooth gradient + a block) encoded as `fmt`."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = rng.integers(0, 255, 3)
    arr = np.stack([(xx * (c + 1) + yy * (3 - c) + base[c]) % 256 for c in range(3)], axis=-1).astype(np.uint8)
    x0, y0 = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
    arr[y0 : y0 + h // 3, x0 : x0 + w // 3] = rng.integers(0, 255, 3)
    img = Image.fromarray(arr).convert(mode)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


HTML_PAGE = b"<!DOCTYPE html><html><head><title>Moved</title></head><body>This image is gone.</body></html>\n"


@dataclass
class Route:
    kind: str  # bytes, status, flaky, stall, trickle, drop, dropmid, biglength, bigstream, gzip, redirect
    data: bytes = b""
    code: int = 200
    fail_times: int = 0
    seconds: float = 0.0
    location: str = ""
    delay: float = 0.0  # sleep before answering (resume tests)
    served: int = 0  # requests seen


@dataclass
class FaceServer:
    """A ThreadingHTTPServer in a thread, with per-path behaviours and a request log."""

    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    completed: Counter = field(default_factory=Counter)  # paths answered 200 with a whole body
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url(path)

    def start(self) -> FaceServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                with server.lock:
                    server.requests.append(self.path)
                    route = server.routes.get(self.path)
                    if route is not None:
                        route.served += 1
                        n = route.served
                if route is None:
                    return self._send(404, b"not found", "text/plain")
                try:
                    self._serve(route, n)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
                    pass

            def _send(self, code: int, body: bytes, ctype: str = "image/jpeg", length: int | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                self.wfile.write(body)

            def _serve(self, r: Route, n: int) -> None:
                if r.delay:
                    time.sleep(r.delay)
                if r.kind == "bytes":
                    self._send(200, r.data, "text/html" if r.data.startswith(b"<") else "image/jpeg")
                    with server.lock:
                        server.completed[self.path] += 1
                elif r.kind == "status":
                    self._send(r.code, b"error page", "text/html")
                elif r.kind == "flaky":
                    if n <= r.fail_times:
                        self._send(500, b"busy", "text/plain")
                    else:
                        self._send(200, r.data)
                elif r.kind == "stall":
                    time.sleep(r.seconds)
                    self._send(200, r.data)
                elif r.kind == "trickle":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(r.data)))
                    self.end_headers()
                    for i in range(len(r.data)):
                        self.wfile.write(r.data[i : i + 1])
                        self.wfile.flush()
                        time.sleep(r.seconds)
                elif r.kind == "drop":
                    self.close_connection = True  # nothing written: the client sees a closed connection
                elif r.kind == "dropmid":
                    self._send(200, r.data[: len(r.data) // 2], length=len(r.data))
                elif r.kind == "biglength":
                    self._send(200, r.data, length=r.code)  # claims r.code bytes, sends a few
                elif r.kind == "bigstream":  # no Content-Length: streams until close
                    self.send_response(200)
                    self.end_headers()
                    for _ in range(r.code // 65536 + 1):
                        self.wfile.write(b"\xff" * 65536)
                elif r.kind == "gzip":  # compressed although the client asked for identity
                    body = gzip.compress(r.data)
                    self.send_response(200)
                    self.send_header("Content-Encoding", "gzip")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                elif r.kind == "redirect":
                    self.send_response(302)
                    self.send_header("Location", r.location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def reset_log(self) -> None:
        with self.lock:
            self.requests.clear()
            self.completed.clear()


def serve_directory(folder: Path) -> tuple[ThreadingHTTPServer, int]:
    """Serve `folder` read-only on a free loopback port; returns (server, port)."""

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, httpd.server_address[1]


def closed_port() -> int:
    """A loopback port with nothing listening (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def list_line(name: str, face_id: object, url: str, bbox: str, digest: str, image_id: object = 1) -> str:
    return "\t".join([name, str(image_id), str(face_id), url, bbox, digest])


def write_list(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def wait_until(cond: Callable[[], bool], timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.005)
    return False


@contextlib.contextmanager
def fails_after(seconds: float) -> Iterator[None]:
    """Fail the test (not hang the suite) when the block runs longer than `seconds`: SIGALRM interrupts
    even a blocking open() of a FIFO. Main thread only, as pytest runs tests."""

    def expired(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s: a hang")

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
