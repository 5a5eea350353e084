"""`cnnlab sweep` names its optuna-dashboard command; the dashboard serves the study's trials from that storage."""

from __future__ import annotations

import json
import shlex
import threading
import urllib.request
from wsgiref.simple_server import WSGIRequestHandler, make_server

import numpy as np
import pytest
from PIL import Image

from cnnlab.cli.app import main
from cnnlab.core.runs.catalog import filter_runs, list_runs

pytest.importorskip("optuna")
optuna_dashboard = pytest.importorskip("optuna_dashboard")


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


def _art(root):
    rng = np.random.default_rng(0)
    for k, colour in enumerate([(200, 40, 40), (40, 200, 40), (40, 40, 200)]):
        (root / f"artist_{k}").mkdir(parents=True)
        for i in range(8):
            pixels = np.clip(np.array(colour) + rng.normal(0, 30, (16, 16, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / f"artist_{k}" / f"{i}.png")
    return root


def _get(url: str):
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def test_sweep_prints_the_dashboard_command_and_the_dashboard_serves_its_trials(tmp_path, capsys):
    out = tmp_path / "runs"
    rc = main(
        [
            "sweep",
            "--data",
            str(_art(tmp_path / "art")),
            "--set",
            "data.image_size=16",
            "--set",
            "data.folds=4",
            "--set",
            "data.test_fraction=0.25",
            "--trials",
            "2",
            "--epochs",
            "1",
            "--study",
            "dash",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    lines = capsys.readouterr().out.splitlines()
    commands = [line.split("watch the study: ", 1)[1] for line in lines if line.startswith("watch the study: ")]
    assert len(commands) == 2 and lines[0].startswith("watch the study: ") and lines[-1].startswith("watch the study: ")
    argv = shlex.split(commands[0].split("  (pip install")[0])
    assert argv == ["optuna-dashboard", f"sqlite:///{(out / 'optuna.db').resolve()}"]

    # The dashboard's own app on the storage named by that command, served on a loopback port.
    server = make_server("127.0.0.1", 0, optuna_dashboard.wsgi(argv[1]), handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        studies = _get(f"{base}/api/studies")["study_summaries"]
        study = next(s for s in studies if s["study_name"] == "dash")
        detail = _get(f"{base}/api/studies/{study['study_id']}")
    finally:
        server.shutdown()
        server.server_close()
    trials = detail["trials"]
    complete = [t for t in trials if t["state"] == "Complete"]
    assert len(complete) == 2  # no pruning before 5 complete trials; invalid draws are replaced
    assert {t["number"] for t in trials} == set(range(len(trials)))
    run_ids = {a["value"] for t in complete for a in t["user_attrs"] if a["key"] == "run_id"}
    assert len(run_ids) == 2 and all((out / rid / "summary.json").is_file() for rid in run_ids)
    # The sweep recorded its trials' run ids: the runs table calls them sweep trials.
    assert {r.run_id for r in filter_runs(list_runs(out), kind="trial")} == run_ids


def test_dashboard_command_hides_the_password():
    from cnnlab.art.sweep.storage import dashboard_command

    assert (
        dashboard_command("postgresql://cnnlab:s3cret@dbhost:5432/cnnlab")
        == "optuna-dashboard 'postgresql://cnnlab:***@dbhost:5432/cnnlab'"
    )
    assert dashboard_command("runs/study.log") == "optuna-dashboard runs/study.log"
