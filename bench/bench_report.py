"""Benchmark: the whole `cnnlab report` against the bare 50-epoch starter loop, in the same session.

These machines vary by up to 1.6x from day to day, so the report's time in seconds says little on its own: the
ratio to the bare training loop of bench/bench_train.py (the handout's 1.2 run written as plainly as possible,
a whole process, data cache warm) measured just before and after it does. The report is a whole process too,
into a fresh runs folder (a cold build: everything trained), then run again on the same folder (a rerun:
everything cached; its time before LaTeX is the cost of a rebuild). Printed: the bare loop's median, the report's
time, the ratio, each stage's time (the report's own "stage times" line, cnnlab.core.progress), the rerun's
time and its stages, the page count, the load average before.

    python bench/bench_report.py             # the full report: minutes (the lead runs it on a quiet machine)
    python bench/bench_report.py --quick     # the quick report (a smoke test of this script, not a figure)
    python bench/bench_report.py --keep runs-bench   # keep the runs folder (default: a temporary one)

Run it under the CPU lock on a shared machine: `flock /tmp/cnnlab-cpu.lock python bench/bench_report.py`.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_train import BARE_LOOP  # noqa: E402  (the same bare loop as the training benchmark)

TARGET_RATIO = 130  # issue 31: the report within 130 bare loops, everything it holds included


def parse_seconds(text: str) -> float:
    """'42 s' -> 42, '3:07' -> 187, '1:02:03' -> 3723 (cnnlab.cli.output.format_seconds read back)."""
    text = text.strip()
    if text.endswith(" s"):
        return float(text[:-2])
    parts = [int(p) for p in text.split(":")]
    return float(sum(p * 60**i for i, p in enumerate(reversed(parts))))


def stage_times(stdout: str) -> dict[str, float]:
    """{stage: seconds} from the command's "stage times: a 12 s, b 3:07" line ({} if there is none)."""
    line = next((ln for ln in stdout.splitlines() if ln.startswith("stage times: ")), "")
    out = {}
    for item in line[len("stage times: ") :].split(", "):
        m = re.match(r"(.+) (\d+ s|\d+(?::\d\d){1,2})$", item.strip())
        if m:
            out[m.group(1)] = parse_seconds(m.group(2))
    return out


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Wall seconds and stdout of one child process (its stderr goes to the terminal: warnings, the progress)."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-3000:]}")
    return wall, proc.stdout


def bare_loop(rounds: int, epochs: int, threads: int, env: dict[str, str]) -> list[float]:
    return [timed([sys.executable, "-c", BARE_LOOP, str(epochs), str(threads)], env)[0] for _ in range(rounds)]


def print_stages(title: str, stages: dict[str, float]) -> None:
    width = max((len(k) for k in stages), default=0)
    print(title)
    for k, v in stages.items():
        print(f"  {k:<{width}}  {v:7.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="time the quick report (a smoke test of this script)")
    ap.add_argument("--rounds", type=int, default=3, help="bare loops before and after the report (median of all)")
    ap.add_argument("--epochs", type=int, default=50, help="epochs of the bare loop (50: the starter run)")
    ap.add_argument("--keep", metavar="DIR", help="runs folder to build into and keep (must not exist yet)")
    ap.add_argument("--no-rerun", action="store_true", help="skip the cached rerun")
    ap.add_argument("--no-compile", action="store_true", help="pass --no-compile (no TeX on this machine)")
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}  # the default thread rule
    from cnnlab.core.threads import resolve_threads

    threads = resolve_threads(None)
    subprocess.run(  # the decoded-data cache warm, as for every cnnlab process after the first
        [sys.executable, "-c", "from cnnlab.art.data import load_art_data; load_art_data('synthetic-artists')"],
        check=True,
        env=env,
    )
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        out = Path(args.keep) if args.keep else Path(tmp) / "runs"
        if args.keep and out.exists():
            raise SystemExit(f"--keep {out}: the folder exists; a cold build needs a new one")
        report = [sys.executable, "-m", "cnnlab", "report", "--out", str(out), "--report-dir", str(Path(tmp) / "rep")]
        report += (["--quick"] if args.quick else []) + (["--no-compile"] if args.no_compile else [])
        bare = bare_loop(args.rounds, args.epochs, threads, env)
        wall, stdout = timed(report, env)
        bare += bare_loop(args.rounds, args.epochs, threads, env)
        rerun = timed(report, env) if not args.no_rerun else None
    pages = re.search(r"\((\d+) pages\)", stdout)
    b = statistics.median(bare)
    label = "quick report" if args.quick else "full report"
    print(
        f"{os.cpu_count()} CPUs; 1-min load average before: {load_before:.2f}; {time.strftime('%Y-%m-%d %H:%M')}; "
        f"{threads} torch thread(s)"
    )
    print(
        f"bare {args.epochs}-epoch loop: median {b:.2f} s over {len(bare)} (min {min(bare):.2f}, max {max(bare):.2f})"
    )
    print(f"{label} (cold, whole process): {wall:.0f} s" + (f", {pages.group(1)} pages" if pages else ""))
    print(f"ratio {label} / bare loop: {wall / b:.0f}" + ("" if args.quick else f"  [target <= {TARGET_RATIO}]"))
    print_stages("stages (cold build):", stage_times(stdout))
    if rerun is not None:
        stages = stage_times(rerun[1])
        latex = stages.get("LaTeX", 0.0)
        print(
            f"rerun, everything cached: {rerun[0]:.0f} s, of which {rerun[0] - latex:.0f} s before LaTeX  [target <= 30]"
        )
        print_stages("stages (rerun):", stages)


if __name__ == "__main__":
    main()
