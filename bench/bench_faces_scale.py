"""Benchmark: `cnnlab faces download` memory and speed as the list grows (10,000 vs 100,000 rows).

For each size N the benchmark writes an N-row FaceScrub-style list against a loopback HTTP server
it runs itself (tiny generated JPEG/PNG bodies; many distinct URLs, every --shared-every-th row on
the same photo as the row before, ~1% 404s), then runs `download_faces` in a child process per size
(with --cli: the `cnnlab faces download` command, whose parser currently imports torch) and
prints rows/s and the child's peak RSS (ru_maxrss from wait4), and the ratio between the sizes.
A flat peak RSS means the downloader streams the list. With --resume each folder is downloaded a
second time (every face verified locally, no network), the case that used to hold the most memory.

    python bench/bench_faces_scale.py [--sizes 10000 100000] [--workers 16] [--resume]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from PIL import Image, ImageDraw

N_BODIES = 64  # distinct image bodies; URL k serves body k % N_BODIES
# the child: download_faces, then one JSON line of counts (--cli runs `cnnlab faces download` instead)
CHILD = """import json, logging, sys
from cnnlab.faces import DownloadConfig, download_faces
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
lst, out, workers, rgb = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
r = download_faces([lst], out, DownloadConfig(workers=workers, timeout=60, rgb_size=rgb))
print(json.dumps({"counts": dict(r.counts), "fetched": r.fetched, "reused": r.reused}))
"""
CLI = "import sys; from cnnlab.cli.app import main; sys.exit(main(sys.argv[1:]))"


def _bodies() -> list[bytes]:
    out = []
    for k in range(N_BODIES):
        img = Image.new("RGB", (40, 30), ((k * 37) % 256, (k * 91) % 256, (k * 53) % 256))
        ImageDraw.Draw(img).rectangle((k % 20, k % 10, k % 20 + 12, k % 10 + 12), fill=(255 - k, k, 128))
        buf = io.BytesIO()
        img.save(buf, format="JPEG" if k % 2 == 0 else "PNG")
        out.append(buf.getvalue())
    return out


def _serve(bodies: list[bytes]) -> tuple[ThreadingHTTPServer, int, list[int]]:
    hits = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            hits[0] += 1
            parts = self.path.split("/")  # /i/<k>.jpg
            if len(parts) == 3 and parts[1] == "i" and parts[2].split(".")[0].isdigit():
                body, code = bodies[int(parts[2].split(".")[0]) % N_BODIES], 200
            else:
                body, code = b"not found", 404
            self.send_response(code)
            self.send_header("Content-Type", "image/jpeg" if code == 200 else "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.request_queue_size = 256
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, httpd.server_address[1], hits


def write_list(path: Path, n: int, port: int, bodies: list[bytes], shared_every: int) -> int:
    """An n-row list; returns the number of distinct URLs."""
    digests = [hashlib.sha256(b).hexdigest() for b in bodies]
    urls = 0
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        k = 0
        for i in range(n):
            if shared_every and i % shared_every == shared_every - 1 and i:
                box = "20,10,40,30"  # a second face on the photo of the row before
            else:
                k, box, urls = i, "2,2,30,24", urls + 1
            missing = k % 97 == 96  # ~1% of the photos are gone
            url = f"http://127.0.0.1:{port}/{'gone' if missing else 'i'}/{k}.{'jpg' if k % 2 == 0 else 'png'}"
            f.write(f"Actor {i // 200:04d}\t{k}\t{i}\t{url}\t{box}\t{digests[k % N_BODIES]}\n")
    return urls


def run_child(lst: Path, out: Path, workers: int, rgb_size: int, cli: bool) -> tuple[float, int, int, str]:
    """(seconds, peak RSS in KiB, exit status, first lines of output) of one download in a child process."""
    if cli:
        cmd = [
            sys.executable,
            "-c",
            CLI,
            "faces",
            "download",
            "--list",
            str(lst),
            "--out",
            str(out),
            "--workers",
            str(workers),
            "--timeout",
            "60",
            "--rgb-size",
            str(rgb_size),
            "--no-progress",
        ]
    else:
        cmd = [sys.executable, "-c", CHILD, str(lst), str(out), str(workers), str(rgb_size)]
    log = out.with_suffix(".log")
    with open(log, "w") as f:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    tail = " | ".join(line.strip() for line in log.read_text().splitlines()[-2:])
    return seconds, usage.ru_maxrss, proc.returncode, tail


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="list lengths to compare")
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--shared-every", type=int, default=10, help="every k-th row shares the photo before it")
    ap.add_argument("--rgb-size", type=int, default=227, help="side of the RGB copies (default 227)")
    ap.add_argument("--resume", action="store_true", help="also time a second run on each finished folder")
    ap.add_argument("--cli", action="store_true", help="run `cnnlab faces download` (its parser imports torch)")
    ap.add_argument("--tmp", type=Path, default=None, help="folder for lists and outputs (default: a temp dir)")
    args = ap.parse_args()
    bodies = _bodies()
    httpd, port, hits = _serve(bodies)
    tmp = Path(tempfile.mkdtemp(prefix="bench_faces_scale_", dir=args.tmp))
    results = []
    try:
        print(
            f"machine: {os.cpu_count()} CPU cores, load {os.getloadavg()[0]:.1f}; workers={args.workers}; "
            f"rgb {args.rgb_size}; a shared photo every {args.shared_every} rows",
            flush=True,
        )
        for n in args.sizes:
            lst = tmp / f"list_{n}.txt"
            urls = write_list(lst, n, port, bodies, args.shared_every)
            out = tmp / f"out_{n}"
            before = hits[0]
            secs, rss, code, tail = run_child(lst, out, args.workers, args.rgb_size, args.cli)
            requests = hits[0] - before
            results.append((n, secs, rss))
            print(
                f"{n:>7} rows ({urls} URLs, {requests} requests): {secs:7.1f} s = {n / secs:6.0f} rows/s, "
                f"peak RSS {rss / 1024:6.1f} MiB, exit {code}  [{tail}]",
                flush=True,
            )
            if args.resume:
                before = hits[0]
                secs, rss, code, _tail = run_child(lst, out, args.workers, args.rgb_size, args.cli)
                print(
                    f"{n:>7} rows, resume: {secs:7.1f} s = {n / secs:6.0f} rows/s, peak RSS {rss / 1024:6.1f} MiB, "
                    f"{hits[0] - before} requests, exit {code}",
                    flush=True,
                )
            shutil.rmtree(out, ignore_errors=True)
        if len(results) >= 2:
            (n0, s0, r0), (n1, s1, r1) = results[0], results[-1]
            print(f"ratio {n1} / {n0} rows: peak RSS x{r1 / r0:.2f}, rows/s x{(n1 / s1) / (n0 / s0):.2f}")
    finally:
        httpd.shutdown()
        httpd.server_close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
