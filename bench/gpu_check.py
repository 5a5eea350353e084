"""The GPU check anyone can run: every command on CUDA on a tiny budget, determinism, and timings against the CPU.

    python bench/gpu_check.py                        # smoke + determinism + starter/suite timings
    python bench/gpu_check.py --report gpu,cpu       # also the full report on both devices (minutes)
    python bench/gpu_check.py --only report --report gpu --jobs-gpu 16
    python bench/gpu_check.py --only quick           # the quick report on both devices (about 2 x 1 min)
    python bench/gpu_check.py --only detcost         # what the deterministic CUDA settings cost (bench_determinism)

Every step runs `python -m cnnlab ...` as a user would, in a fresh folder under --work. A step passes when
it exits 0 and prints no traceback. Timings are whole commands (start-up included), measured on this
machine in this run; the table ends with the CUDA/CPU ratios. Nothing here downloads anything: AlexNet
runs untrained (--weights random) and the report is not compiled (--no-compile).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEPS = ("smoke", "determinism", "detcost", "starter", "suite", "quick", "report")


def cnnlab(args: list[str], work: Path, env: dict, timeout: float = 600) -> dict:
    """Run `python -m cnnlab args` in `work`; returns status, seconds, tracebacks and the output's tail."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "cnnlab", *args], cwd=work, env=env, capture_output=True, text=True, timeout=timeout
        )
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc, out, err = 124, str(exc.stdout or ""), str(exc.stderr or "") + "\ntimed out"
    seconds = time.perf_counter() - t0
    text = out + err
    return {
        "cmd": "cnnlab " + " ".join(args),
        "rc": rc,
        "seconds": round(seconds, 2),
        "traceback": "Traceback" in text,
        "ok": rc == 0 and "Traceback" not in text,
        "tail": text[-1500:],
        "stdout": out,
    }


def smoke(work: Path, env: dict, device: str) -> list[dict]:
    """Every command on `device` with a tiny budget, in the order a user meets them."""
    w = work / "smoke"
    w.mkdir(parents=True, exist_ok=True)
    results = []

    def run(args: list[str], timeout: float = 300) -> dict:
        r = cnnlab(args, w, env, timeout)
        results.append(r)
        print(f"  {'ok ' if r['ok'] else 'FAIL'} {r['seconds']:7.1f} s  {r['cmd']}", flush=True)
        if not r["ok"]:
            print("    " + r["tail"][-600:].replace("\n", "\n    "), flush=True)
        return r

    dev = ["--device", device]
    train = run(["train", "--epochs", "2", "--out", "runs", "--json", *dev])
    run_id = json.loads(train["stdout"])["run_id"] if train["ok"] else None
    auto = run(["train", "--epochs", "2", "--out", "runs-auto", "--json", "--device", "auto"])
    if auto["ok"]:
        auto["device_recorded"] = json.loads(auto["stdout"]).get("device")
        print(f"    --device auto recorded: {auto['device_recorded']}", flush=True)
    run(["experiment", "all", "--quick", "--jobs", "4", "--out", "runs", *dev], timeout=600)
    run(["sweep", "--trials", "2", "--epochs", "1", "--out", "runs", "--study", "smoke", *dev])
    run(["lr-find", "--steps", "10", "--out", "lr", *dev])
    if run_id:
        run(["inspect", run_id, "--out", "runs", "--split", "both", *dev])
    mlp = run(["part2", "mlp", "--epochs", "2", "--out", "runs", "--json", *dev])
    run(["part2", "weights", "--epochs", "2", "--out", "runs", *dev])
    run(["part2", "features", "--epochs", "2", "--weights", "random", "--input-size", "95", "--out", "runs", *dev])
    run(["part2", "finetune", "--epochs", "1", "--weights", "random", "--input-size", "95", "--out", "runs", *dev])
    run(
        [
            "part2",
            "finetune",
            "--epochs",
            "1",
            "--weights",
            "random",
            "--input-size",
            "95",
            "--freeze",
            "none",
            "--out",
            "runs",
            *dev,
        ]
    )
    if mlp["ok"]:
        ckpt = str(Path("runs") / json.loads(mlp["stdout"])["run_id"] / "model.pt")
        face = w / "face.png"
        from PIL import Image

        Image.new("L", (28, 28), 128).save(face)
        run(["predict", str(face), "--checkpoint", ckpt, *dev])
        run(["explain", str(face), "--checkpoint", ckpt, "--out", "explain.png", *dev])
    run(["report", "--quick", "--no-compile", "--out", "runs-report", "--report-dir", "report", *dev], timeout=600)
    return results


def _numbers(path: Path) -> list:
    """metrics.jsonl rows without timings: what must repeat bitwise."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [{k: v for k, v in r.items() if "seconds" not in k} for r in rows]


def determinism(work: Path, env: dict, device: str) -> dict:
    """The same seeded run twice (Part 1 CNN with dropout and augmentation, Part 2 MLP): bitwise equal histories?"""
    out = {}
    for name, args in (
        (
            "cnn",
            [
                "train",
                "--epochs",
                "5",
                "--set",
                "model.dropout=0.3",
                "--set",
                "augment.probabilities={translate: 0.3, hflip: 0.3}",
            ],
        ),
        ("mlp", ["part2", "mlp", "--epochs", "5"]),
    ):
        histories = []
        for i in range(2):
            folder = work / f"det-{name}-{i}"
            r = cnnlab([*args, "--out", str(folder), "--device", device, "--json"], work, env)
            if not r["ok"]:
                out[name] = {"ok": False, "tail": r["tail"][-600:]}
                break
            run = next(p for p in folder.iterdir() if (p / "metrics.jsonl").is_file())
            histories.append(_numbers(run / "metrics.jsonl"))
        else:
            out[name] = {
                "ok": True,
                "equal": histories[0] == histories[1],
                "epochs": len(histories[0]),
                "last_train_loss": [h[-1].get("train_loss") for h in histories],
            }
        print(f"  determinism {name} on {device}: {out[name]}", flush=True)
    return out


def timed(label: str, args: list[str], work: Path, env: dict, rounds: int, fresh: bool = True) -> dict:
    """Median wall time of `rounds` whole commands (each in a fresh runs folder when `fresh`: nothing cached)."""
    times = []
    for i in range(rounds):
        folder = work / f"t-{label}-{i}"
        shutil.rmtree(folder, ignore_errors=True)
        r = cnnlab([*args, "--out", str(folder)], work, env, timeout=3600)
        if not r["ok"]:
            print(f"  FAIL {label}: {r['tail'][-800:]}", flush=True)
            return {"label": label, "ok": False, "tail": r["tail"][-800:]}
        times.append(r["seconds"])
        print(f"  {label} round {i + 1}: {r['seconds']:.1f} s", flush=True)
    return {"label": label, "ok": True, "median": statistics.median(times), "times": times}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--only", default="smoke,determinism,starter,suite", help=f"steps, comma-separated: {', '.join(STEPS)}"
    )
    ap.add_argument("--report", default="", help="full report timing on: gpu, cpu or gpu,cpu (adds the report step)")
    ap.add_argument("--device", default="cuda", help="the GPU device (default: cuda)")
    ap.add_argument(
        "--jobs-gpu", type=int, default=None, help="--jobs on the GPU (default: cnnlab's default for the device)"
    )
    ap.add_argument("--jobs-cpu", type=int, default=os.cpu_count(), help="--jobs on the CPU (default: every core)")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of each timing (median)")
    ap.add_argument("--work", type=Path, default=None, help="work folder (default: a temporary one)")
    ap.add_argument("--json", type=Path, default=None, help="write every result here")
    args = ap.parse_args()
    steps = set(args.only.split(",")) | ({"report"} if args.report else set())
    work = args.work or Path(tempfile.mkdtemp(prefix="cnnlab-gpu-check-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    import torch

    info = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cpus": os.cpu_count(),
    }
    print(f"gpu_check: {info}", flush=True)
    if not torch.cuda.is_available() and args.device.startswith("cuda"):
        print(
            "gpu_check: no CUDA GPU here: nothing to check (--device cpu rehearses the script on the CPU)",
            file=sys.stderr,
        )
        return 2
    results: dict = {"info": info}
    gpu_jobs = ["--jobs", str(args.jobs_gpu)] if args.jobs_gpu else []
    cpu_jobs = ["--jobs", str(args.jobs_cpu)]
    if "smoke" in steps:
        print("== every command on the GPU, tiny budgets", flush=True)
        results["smoke"] = smoke(work, env, args.device)
    if "determinism" in steps:
        print("== determinism: the same seeded run twice", flush=True)
        results["determinism"] = determinism(work, env, args.device)
    if "detcost" in steps:
        print("== what determinism costs (bench/bench_determinism.py)", flush=True)
        script = Path(__file__).with_name("bench_determinism.py")
        proc = subprocess.run(
            [sys.executable, str(script), "--device", args.device, "--rounds", str(max(args.rounds, 3))],
            env=env,
            capture_output=True,
            text=True,
        )
        print(proc.stdout + proc.stderr[-1500:], flush=True)
        results["detcost"] = {"rc": proc.returncode, "output": proc.stdout}
    timings = []
    if "starter" in steps:
        print("== the starter run (cnnlab train, defaults), whole command", flush=True)
        for _ in range(1):  # interleaved: CPU, GPU, CPU, GPU ...
            timings.append(
                timed("starter-cpu-1thread", ["train", "--device", "cpu", "--threads", "1"], work, env, args.rounds)
            )
            timings.append(timed("starter-cuda", ["train", "--device", args.device], work, env, args.rounds))
    if "suite" in steps:
        print("== one suite (experiment pooling, 5 repeats)", flush=True)
        timings.append(timed("pooling-cpu", ["experiment", "pooling", "--device", "cpu", *cpu_jobs], work, env, 1))
        timings.append(
            timed("pooling-cuda", ["experiment", "pooling", "--device", args.device, *gpu_jobs], work, env, 1)
        )
    if "quick" in steps:
        print("== the quick report (--quick --no-compile), whole command", flush=True)
        for dev, jobs, label in (("cpu", cpu_jobs, "quick-cpu"), (args.device, gpu_jobs, "quick-cuda")):
            report_dir = ["--report-dir", str(work / f"report-{label}")]
            timings.append(
                timed(label, ["report", "--quick", "--no-compile", "--device", dev, *jobs, *report_dir], work, env, 1)
            )
    if "report" in steps:
        for which in args.report.split(","):
            print(f"== the full report on {which} (--no-compile)", flush=True)
            dev, jobs = (args.device, gpu_jobs) if which == "gpu" else ("cpu", cpu_jobs)
            timings.append(
                timed(
                    f"report-{'cuda' if which == 'gpu' else 'cpu'}",
                    ["report", "--no-compile", "--device", dev, *jobs, "--report-dir", str(work / f"report-{which}")],
                    work,
                    env,
                    1,
                )
            )
    results["timings"] = timings
    by = {t["label"]: t for t in timings if t.get("ok")}
    print("\n== summary", flush=True)
    if "smoke" in results:
        bad = [r["cmd"] for r in results["smoke"] if not r["ok"]]
        print(
            f"smoke: {len(results['smoke']) - len(bad)}/{len(results['smoke'])} commands ok"
            + (f"; FAILED: {bad}" if bad else "")
        )
    if "determinism" in results:
        print(
            "determinism: "
            + ", ".join(
                f"{k} {'bitwise equal' if v.get('equal') else 'DIFFERENT'}" for k, v in results["determinism"].items()
            )
        )
    print(f"{'timing':<22}{'median s':>10}")
    for t in timings:
        print(f"{t['label']:<22}{t['median'] if t.get('ok') else float('nan'):>10.1f}")
    for what, cpu, gpu in (
        ("starter", "starter-cpu-1thread", "starter-cuda"),
        ("pooling suite", "pooling-cpu", "pooling-cuda"),
        ("quick report", "quick-cpu", "quick-cuda"),
        ("full report", "report-cpu", "report-cuda"),
    ):
        if cpu in by and gpu in by:
            print(
                f"ratio {what}: CUDA / CPU = {by[gpu]['median'] / by[cpu]['median']:.2f} (CPU {by[cpu]['median']:.1f} s, CUDA {by[gpu]['median']:.1f} s)"
            )
    if args.json:
        for r in results.get("smoke", []):
            r.pop("stdout", None)
        args.json.write_text(json.dumps(results, indent=2, default=str))
    if "detcost" in results:
        print("determinism cost:\n" + results["detcost"]["output"].strip())
    failed = any(not r["ok"] for r in results.get("smoke", [])) or any(
        not v.get("equal") for v in results.get("determinism", {}).values()
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
