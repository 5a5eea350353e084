"""Benchmark: `cnnlab faces download` on the 1,649 mirror rows over loopback.

The mirror (../shared/data/facescrub/mirror/files) is served by `python -m http.server` in its own
process. Figures (medians over --repeats):
  full     : fresh output folder, download + verify + crop + 28x28 / 227x227 copies + manifest
  resume   : rerun on the finished folder (verified faces need no network)
  reference: the starter-script way, one urllib GET after another, bytes only (no checks, no crops)

    python bench/bench_faces_download.py [--workers 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from cnnlab.faces import DownloadConfig, download_faces, parse_list

MIRROR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "facescrub" / "mirror"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(folder: Path) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("http.server did not start")


def _reference(list_path: Path) -> float:
    """Sequential urllib GETs, bytes kept in memory only (what the starter script does, minus crops)."""
    start = time.perf_counter()
    for row in parse_list(list_path).rows:
        try:
            with urllib.request.urlopen(row.url, timeout=10) as resp:
                resp.read()
        except (urllib.error.URLError, OSError):
            pass
    return time.perf_counter() - start


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--mirror", type=Path, default=MIRROR)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not (args.mirror / "mirror_list.txt").is_file():
        raise SystemExit(f"mirror not found: {args.mirror}")
    proc, port = _serve(args.mirror / "files")
    tmp = Path(tempfile.mkdtemp(prefix="bench_faces_"))
    try:
        text = (args.mirror / "mirror_list.txt").read_text(encoding="utf-8")
        lst = tmp / "list.txt"
        lst.write_text(text.replace("http://127.0.0.1:8000/", f"http://127.0.0.1:{port}/"), encoding="utf-8")
        cfg = DownloadConfig(workers=args.workers, timeout=10, retries=1)
        full, resume, reference, cpu = [], [], [], []
        for i in range(args.repeats):
            out = tmp / f"out{i}"
            start, used = time.perf_counter(), _cpu()
            report = download_faces([lst], out, cfg)
            full.append(time.perf_counter() - start)
            cpu.append(_cpu() - used)
            start = time.perf_counter()
            again = download_faces([lst], out, cfg)
            resume.append(time.perf_counter() - start)
            reference.append(_reference(lst))
            assert again.counts == report.counts
            shutil.rmtree(out)
        print(
            f"machine: {os.cpu_count()} CPU cores; {report.total} rows, {report.counts['ok']} ok; "
            f"workers={args.workers}; repeats={args.repeats}"
        )
        print(f"statuses: {dict(report.counts)}")
        med = statistics.median
        print(
            f"full download + crops + copies : median {med(full):6.2f} s  (runs: "
            f"{', '.join(f'{t:.2f}' for t in full)}) = {report.total / med(full):.0f} faces/s"
        )
        print(
            f"CPU time of the downloader process (server excluded): median {med(cpu):6.2f} s per full run; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        print(
            f"resume (all verified, no fetch): median {med(resume):6.2f} s  ({again.reused} faces reused, "
            f"{again.fetched} URLs retried)"
        )
        print(f"reference: sequential urllib GET, bytes only: median {med(reference):6.2f} s")
        print(f"ratio full / reference: {med(full) / med(reference):.2f}; resume / full: {med(resume) / med(full):.3f}")
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
