"""Experiment suites in quick mode on a tiny art folder: results, caching, resume after kill -9."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnlab.art.config import RunConfig
from cnnlab.art.robustness import ORIGINAL, course_points, robustness_facts
from cnnlab.art.suites import SuiteOptions, labels, run_suite, suite_names
from cnnlab.art.transforms.course import COURSE_ORDER
from cnnlab.core.config import resolve_config
from cnnlab.core.errors import CnnlabError
from cnnlab.core.runtime import RuntimeOptions
from cnnlab.core.stats import format_comparison


@pytest.fixture(scope="module")
def tiny_art(tmp_path_factory) -> Path:
    """3 'artists' x 9 small images: a colour cast plus a stroke orientation per class."""
    root = tmp_path_factory.mktemp("tiny_art")
    rng = np.random.default_rng(0)
    for c, name in enumerate(["anna a", "bert b", "carl c "]):
        folder = root / name
        folder.mkdir()
        for i in range(9):
            img = rng.integers(0, 60, (30, 40, 3), dtype=np.uint8)
            img[..., c] += 150
            if c == 1:
                img[::4] = 255
            Image.fromarray(img).save(folder / f"{i}.png")
    return root


def _options(tmp_path: Path, tiny_art: Path, jobs: int | None = None, **kw) -> SuiteOptions:
    base = resolve_config(RunConfig, None, [f"data.name={tiny_art}"])
    runtime = RuntimeOptions(out=tmp_path / "runs", **({"jobs": jobs} if jobs else {}))
    return SuiteOptions(runtime=runtime, base=base, quick=True, **kw)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in suite_names() if n not in ("search", "robustness")])
def test_suite_quick_mode_writes_results(tmp_path, tiny_art, name):
    result = run_suite(name, _options(tmp_path, tiny_art))
    assert (result.path / "results.csv").is_file() and (result.path / "results.md").is_file()
    meta = json.loads((result.path / "suite.json").read_text())
    assert meta["repeats"] == [0] and meta["n_repeats"] == 1 and meta["epochs"] == 2
    assert len(result.rows) >= 1
    for row in result.rows:
        assert row["n"] == 1 and 0.0 <= row["val_acc_mean"] <= 1.0
        # every number traces back to finished run folders
        for rid in row["run_ids"]:
            assert (tmp_path / "runs" / rid / "summary.json").is_file()
    assert "± " in (result.path / "results.md").read_text()
    assert list(result.path.glob("*.png")), "each suite writes its plots"


@pytest.mark.slow
def test_seeds_give_error_bars_and_cache_skips_finished_runs(tmp_path, tiny_art, caplog):
    options = _options(tmp_path, tiny_art, repeats=2)
    options = SuiteOptions(**{**options.__dict__, "quick": False, "epochs": 2})
    first = run_suite("baseline", options)
    row = first.rows[0]
    assert row["n"] == 2 and len(set(row["run_ids"])) == 2
    stamps = {rid: (tmp_path / "runs" / rid / "summary.json").stat().st_mtime_ns for rid in row["run_ids"]}
    caplog.set_level("INFO")
    again = run_suite("baseline", options)
    assert again.rows[0]["run_ids"] == row["run_ids"]
    assert {rid: (tmp_path / "runs" / rid / "summary.json").stat().st_mtime_ns for rid in row["run_ids"]} == stamps
    assert "2 of 2 runs were cached" in caplog.text


@pytest.mark.slow
def test_robustness_suite_quick(tmp_path, tiny_art):
    result = run_suite("robustness", _options(tmp_path, tiny_art))
    table = json.loads((result.path / "suite.json").read_text())["robustness"]
    transforms = {r["transform"] for r in table}
    assert {
        "original",
        "invert",
        "hflip",
        "translate",
        "brighten",
        "darken",
        "contrast_high",
        "contrast_low",
    } <= transforms
    assert set(COURSE_ORDER) <= transforms  # the course's transformations: the headline
    assert {r["model"] for r in table} == {"as trained", "augmented"}
    assert (result.path / "robustness_curves.png").is_file() and (result.path / "robustness.md").is_file()
    # the findings state the facts the report words too, about the course's transformations
    facts = robustness_facts(table, labels.AS_TRAINED, labels.AUGMENTED)
    assert set(facts.transforms) == set(COURSE_ORDER)
    findings = "\n".join(result.findings)
    assert (
        f"most invariant to: {facts.most_invariant()[0]} " in findings
        and f"most damaging: {facts.most_damaging()[0]} " in findings
    )
    assert f"{facts.ranked[0]} {format_comparison(facts.gains[facts.ranked[0]])}" in findings
    # as trained and augmented ran on the same repeats: the augmented row carries its paired difference
    rows = {r["variant"]: r for r in result.rows}
    assert rows[labels.AUGMENTED]["repeats"] == rows[labels.AS_TRAINED]["repeats"] == [0]
    assert rows[labels.AUGMENTED]["vs_reference"]["reference"] == labels.AS_TRAINED


@pytest.mark.slow
def test_killed_suite_resumes_without_loss(tmp_path, tiny_art):
    out = tmp_path / "runs"
    cmd = [
        sys.executable,
        "-m",
        "cnnlab",
        "experiment",
        "pooling",
        "--quick",
        "--data",
        str(tiny_art),
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("cnn-*/summary.json"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("cnn-*/summary.json")}
    assert len(finished) >= 3
    # every visible run folder is complete: a killed run never shows up half-written
    for folder in out.glob("cnn-*"):
        assert {"summary.json", "config.json", "metrics.jsonl", "best.pt"} <= {p.name for p in folder.iterdir()}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert re.search(r"pooling: done in .* cached\)", done.stderr), done.stderr  # the stage's line
    (log_file,) = sorted((out / "logs").glob("experiment-*.log"))[-1:]
    assert "were cached and reused" in log_file.read_text()  # the INFO lines: in the command's log file
    for rid, stamp in finished.items():
        assert (out / rid / "summary.json").stat().st_mtime_ns == stamp  # not retrained
    assert not list(out.glob(".tmp-*"))
    meta = json.loads((out / "suites" / "pooling" / "suite.json").read_text())
    assert all((out / rid / "summary.json").is_file() for row in meta["rows"] for rid in row["run_ids"])


def test_cached_suite_run_gets_its_plot_when_trained_by_hand(tmp_path, tiny_art):
    from cnnlab.art.run import train_run
    from cnnlab.art.suites.common import variant_config
    from cnnlab.art.suites.definitions import BASELINE

    options = _options(tmp_path, tiny_art)
    row = run_suite("baseline", options).rows[0]
    run_dir = tmp_path / "runs" / row["run_ids"][0]
    assert not (run_dir / "learning_curves.png").exists()  # suites skip per-run plots
    config = variant_config(options.base, BASELINE, 0, options.n_epochs)
    result = train_run(config, tmp_path / "runs")
    assert result.cached and result.path == run_dir
    assert (run_dir / "learning_curves.png").is_file()


def test_find_variant_never_falls_back_to_another_row():
    rows = [{"variant": labels.REG_BASELINE, "group": "baseline"}, {"variant": "dropout 0.1", "group": "dropout"}]
    assert labels.find_variant(rows, "dropout 0.1", "regularization") is rows[1]
    with pytest.raises(CnnlabError, match="suite 'regularization' has no variant 'dropout 0.9'"):
        labels.find_variant(rows, "dropout 0.9", "regularization")


def test_suite_variants_use_the_shared_labels():
    from cnnlab.art.suites.definitions import architecture_variants, regularization_variants

    arch = {v.label: v.group for v in architecture_variants()}
    assert arch[labels.ARCH_STARTER] == "baseline"
    assert all(labels.kernel_label(k) in arch for k in labels.KERNEL_SIZES) and all(
        labels.stride_label(s) in arch for s in labels.STRIDES
    )
    assert all(d in arch for d in labels.DEPTHS) and list(arch.values()).count(labels.SHAPE) == 3
    reg = {v.label: v.group for v in regularization_variants()}
    assert reg[labels.REG_BASELINE] == "baseline" and labels.EARLY_STOPPING in reg.values()


def test_robustness_facts_on_a_constructed_table():
    def row(model, transform, severity, accs):
        return {
            "model": model,
            "transform": transform,
            "severity": severity,
            "acc_mean": sum(accs) / len(accs),
            "acc_std": 0.01,
            "n": len(accs),
            "accs": accs,
        }

    table = [
        row("as trained", ORIGINAL, 0.0, [0.80, 0.70]),
        row("as trained", "hflip", 1.0, [0.78, 0.70]),
        row("as trained", "invert", 1.0, [0.20, 0.10]),
        row("as trained", "brighten", 0.5, [0.70, 0.60]),
        row("as trained", "brighten", 1.0, [0.50, 0.40]),
        row("as trained", "course_invert", 1.0, [0.30, 0.20]),
        row("augmented", ORIGINAL, 0.0, [0.75, 0.65]),
        row("augmented", "hflip", 1.0, [0.74, 0.64]),
        row("augmented", "invert", 1.0, [0.60, 0.50]),
        row("augmented", "brighten", 0.5, [0.70, 0.60]),
        row("augmented", "brighten", 1.0, [0.65, 0.55]),
        row("augmented", "course_invert", 1.0, [0.30, 0.20]),
    ]
    facts = robustness_facts(table, "as trained", "augmented", transforms=None)
    assert facts.strongest == {ORIGINAL: 0.0, "hflip": 1.0, "invert": 1.0, "brighten": 1.0, "course_invert": 1.0}
    assert facts.clean["acc_mean"] == pytest.approx(0.75) and facts.clean_change.diff == pytest.approx(-0.05)
    # drops are paired per repeat: clean minus transformed of the same run
    assert {t: c.diff for t, c in facts.drops.items()} == pytest.approx(
        {"hflip": 0.01, "invert": 0.60, "brighten": 0.30, "course_invert": 0.50}
    )
    assert facts.drops["brighten"].verdict == "better" and facts.drops["brighten"].se == pytest.approx(
        0.0, abs=1e-12
    )  # 0.30 lost in both runs
    assert facts.ranked == ("hflip", "brighten", "course_invert", "invert")
    assert facts.most_invariant(1) == ("hflip",) and facts.most_damaging() == ("invert", "course_invert")
    assert (
        facts.gains["invert"].diff == pytest.approx(0.40)
        and facts.gains["course_invert"].verdict == "no effect at this setting"
    )
    assert facts.mean_drop(("hflip", "translate")) == pytest.approx(0.01) and facts.mean_drop(("translate",)) is None
    # by default the facts are about the course's transformations only
    course = robustness_facts(table, "as trained", "augmented")
    assert course.transforms == ("course_invert",) and set(course.gains) == {ORIGINAL, "course_invert"}
    assert robustness_facts(table, "as trained").gains == {} and robustness_facts(table, "as trained").models == (
        "as trained",
    )
    with pytest.raises(CnnlabError, match="no row for model 'retrained'"):
        robustness_facts(table, "as trained", "retrained")
    # where the course's points sit on the graded curves
    assert (
        course_points(table, "as trained", "invert") == [(1.0, pytest.approx(0.25))]
        and course_points(table, "as trained", "hflip") == []
    )


def test_variants_run_on_the_same_repeats_each_on_its_own_fold_and_seed(tmp_path, tiny_art):
    from cnnlab.art.suites import Variant, common, run_on_repeats_of, run_paired

    options = SuiteOptions(
        **{**_options(tmp_path, tiny_art, repeats=(0, 1, 6), jobs=1).__dict__, "quick": False, "epochs": 1}
    )
    common._WORKER_DATA.clear()
    ref = Variant("ref", "baseline")
    rows = run_paired(
        ref,
        [Variant("same as ref", "g", ("model.dropout=0.0",)), Variant("wider", "g", ("model.filters=[8,8]",))],
        options,
    )
    assert [r["repeats"] for r in rows] == [[0, 1, 6]] * 3
    for r in rows:
        for repeat, rid in zip(r["repeats"], r["run_ids"]):
            config = json.loads((tmp_path / "runs" / rid / "config.json").read_text())["config"]
            assert (config["train"]["seed"], config["data"]["fold"]) == (
                repeat,
                repeat % 5,
            )  # repeat 6 reuses fold 1 with seed 6
        assert len(r["per_repeat"]["val_acc"]) == 3 and r["val_acc_mean"] == pytest.approx(
            sum(r["per_repeat"]["val_acc"]) / 3
        )
    # the prepared data is cached per data config, the fold included: folds 0 and 1
    assert sorted(k.fold for k in common._WORKER_DATA) == [0, 1]
    same, wider = rows[1], rows[2]
    assert same["run_ids"] == rows[0]["run_ids"]  # a setting that changes nothing is the same run...
    assert same["vs_reference"]["val_acc"]["verdict"] == "no effect at this setting"  # ...and is flagged
    assert wider["vs_reference"]["reference"] == "ref" and wider["vs_reference"]["val_acc"]["n"] == 3
    findings = "\n".join(common.compare(rows, rows[0]))
    assert "no effect at this setting (every per-repeat number equals ref's): same as ref" in findings
    # a variant of a new suite against a row of another suite runs on that row's repeats, paired with it
    later = run_on_repeats_of(
        {**rows[0], "repeats": [1, 6], "per_repeat": {k: v[1:] for k, v in rows[0]["per_repeat"].items()}},
        [Variant("later", "controls", ("model.fc_sizes=[32]",))],
        options,
    )
    assert later[0]["repeats"] == [1, 6] and later[0]["vs_reference"]["val_acc"]["n"] == 2


def test_controls_suite_pairs_colour_only_and_grayscale_with_the_colour_cnn(tmp_path, tiny_art):
    from cnnlab.art.colour_only import colour_features
    from cnnlab.art.suites.controls import COLOUR_CNN, COLOUR_ONLY, GRAYSCALE_CNN
    from cnnlab.core.stats import compare_records, t_quantile

    base = resolve_config(RunConfig, None, [f"data.name={tiny_art}"])
    options = SuiteOptions(runtime=RuntimeOptions(out=tmp_path / "runs", jobs=1), base=base, repeats=2, epochs=2)
    result = run_suite("controls", options)
    cnn, gray, only = (
        labels.find_variant(result.rows, v, "controls") for v in (COLOUR_CNN, GRAYSCALE_CNN, COLOUR_ONLY)
    )
    for row in (cnn, gray, only):
        assert row["n"] == 2 and row["repeats"] == [0, 1] and len(row["per_repeat"]["test_acc"]) == 2
    # The colour-only classifier is a real, recorded run per repeat, on the same split as the CNN.
    for rid, acc in zip(only["run_ids"], only["per_repeat"]["test_acc"]):
        s = json.loads((tmp_path / "runs" / rid / "summary.json").read_text())
        assert (
            s["kind"] == "colour-only"
            and s["test_acc"] == acc
            and s["C"] in (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)
        )
        assert np.sum(s["confusion_test"]) == s["data"]["n_test"]
        config = json.loads((tmp_path / "runs" / rid / "config.json").read_text())
        assert (config["seed"], config["config"]["data"]["fold"]) == (
            s["seed"],
            s["seed"] % 5,
        )  # repeat r: seed r, fold r mod 5
    for rid, repeat in zip(gray["run_ids"], gray["repeats"]):
        config = json.loads((tmp_path / "runs" / rid / "config.json").read_text())["config"]
        assert config["data"]["grayscale"] is True and (config["train"]["seed"], config["data"]["fold"]) == (
            repeat,
            repeat % 5,
        )
    # Paired differences: mean and SE of the per-repeat differences, the t interval of the one rule.
    d = np.array(only["per_repeat"]["test_acc"]) - np.array(cnn["per_repeat"]["test_acc"])
    c = compare_records(only, cnn, "test_acc")
    assert c.diff == pytest.approx(d.mean()) and c.n == 2
    if d[0] != d[1]:
        assert c.se == pytest.approx(d.std(ddof=1) / np.sqrt(2)) and c.high - c.low == pytest.approx(
            2 * t_quantile(2) * c.se
        )
    assert (
        only["vs_reference"]["test_acc"]["diff"] == pytest.approx(c.diff)
        and only["vs_reference"]["reference"] == COLOUR_CNN
    )
    assert gray["vs_reference"]["reference"] == COLOUR_CNN and gray["vs_reference"]["test_acc"]["n"] == 2
    findings = " ".join(result.findings)
    assert "colour only minus colour CNN, paired" in findings and "grayscale minus colour CNN, paired" in findings
    assert (result.path / "controls.png").is_file()
    # The colour CNN's runs are the robustness suite's "as trained" runs (cached, not retrained).
    robust = run_suite("robustness", options)
    assert labels.find_variant(robust.rows, labels.AS_TRAINED, "robustness")["run_ids"] == cnn["run_ids"]
    # Colour features ignore the mid-grey padding: a padded image has the histogram of its painted part.
    x = torch.full((1, 3, 8, 8), -0.3)
    padded = torch.zeros(1, 3, 12, 12)
    padded[..., 2:10, 2:10] = -0.3
    assert np.allclose(colour_features(x), colour_features(padded))


def test_a_colour_only_run_is_a_finished_run_reused_as_it_is(tmp_path, tiny_art, caplog):
    """Issue 31 item 3: the colour-only control writes what every finished run has (metrics.jsonl), so a rerun
    reuses the folder (same id, same inode, no damaged-run warning) instead of fitting it again."""
    from cnnlab.art.colour_only import colour_only_run
    from cnnlab.core.runs.folders import run_problem

    config = resolve_config(RunConfig, None, [f"data.name={tiny_art}"])
    first = colour_only_run(config, tmp_path / "runs")
    assert not first.cached and run_problem(first.path) is None
    assert (first.path / "metrics.jsonl").read_text() == ""  # a closed-form fit: no epochs
    before = first.path.stat()
    with caplog.at_level("WARNING"):
        again = colour_only_run(config, tmp_path / "runs")
    assert again.cached and again.path == first.path and again.summary == first.summary
    assert (again.path.stat().st_ino, again.path.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert "damaged" not in caplog.text


def test_controls_findings_say_what_colour_explains():
    from cnnlab.art.suites.controls import controls_facts, controls_findings

    def row(label, accs):
        return {
            "variant": label,
            "repeats": [0, 1, 2],
            "per_repeat": {"test_acc": accs},
            "n": 3,
            "test_acc_mean": float(np.mean(accs)),
            "test_acc_std": float(np.std(accs, ddof=1)),
        }

    cnn, gray = row("colour CNN", [0.60, 0.64, 0.62]), row("grayscale CNN", [0.40, 0.45, 0.41])
    only = row("colour only", [0.40, 0.41, 0.39])
    facts = controls_facts([cnn, gray, only], chance=0.1)
    assert facts.share == pytest.approx(0.3 / 0.52) and facts.spatial == pytest.approx(0.22)
    assert facts.only_vs_cnn.verdict == "worse" and facts.gray_vs_cnn.verdict == "worse"
    text = " ".join(controls_findings(facts))
    assert "colour alone reaches 58% of the CNN's accuracy above chance" in text and "+0.220 beyond it" in text
    assert "removing colour costs accuracy" in text
    unclear = controls_facts([cnn, gray, row("colour only", [0.70, 0.66, 0.69])], chance=0.1)  # paired CI spans 0
    assert unclear.colour_finding == "colour enough"
    assert "colour statistics explain the CNN's accuracy as far as 3 repeats tell" in " ".join(
        controls_findings(unclear)
    )
    better = controls_facts([cnn, gray, row("colour only", [0.70, 0.75, 0.72])], chance=0.1)
    assert better.colour_finding == "colour better"
    assert "colour statistics alone do better than the CNN" in " ".join(controls_findings(better))


@pytest.mark.slow
def test_runs_in_shared_workers_equal_runs_in_fresh_ones(tmp_path, tiny_art):
    """A worker that already trained other runs (its decoded data cached) trains a run bitwise as a fresh one does."""
    from cnnlab.art.suites.common import run_configs, variant_config, with_overrides
    from cnnlab.art.suites.definitions import BASELINE
    from cnnlab.core.pool import shared_workers

    def options(name: str) -> SuiteOptions:
        return replace(_options(tmp_path / name, tiny_art, jobs=2), epochs=2)

    base = options("fresh").base
    configs = [variant_config(base, BASELINE, r, 2) for r in (0, 1)]
    fresh = run_configs(configs, options("fresh"))
    with shared_workers():
        other = with_overrides(base, ["train.optimizer.lr=0.003"])
        run_configs([variant_config(other, BASELINE, r, 2) for r in (0, 1, 2)], options("shared"))
        shared = run_configs(configs, options("shared"))
    assert [s["run_id"] for s in shared] == [s["run_id"] for s in fresh]
    assert not any(s["cached"] for s in shared)

    def history(summary: dict) -> list[dict]:
        rows = [json.loads(line) for line in (Path(summary["path"]) / "metrics.jsonl").read_text().splitlines()]
        return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]

    for a, b in zip(fresh, shared):
        assert history(a) == history(b) and len(history(a)) == 2
        assert (a["train_loss"], a["val_acc"], a["test_acc"]) == (b["train_loss"], b["val_acc"], b["test_acc"])


def test_the_report_search_study_is_named_by_device_type(tmp_path, tiny_art, monkeypatch):
    import cnnlab.core.device as device
    from cnnlab.art.suites.best_model import search_study_name

    assert search_study_name(_options(tmp_path, tiny_art)) == "search-quick"  # the CPU: the names of cnnlab 0.2
    assert search_study_name(replace(_options(tmp_path, tiny_art), quick=False)) == "search"
    monkeypatch.setattr(device, "resolve_device", lambda _: torch.device("cuda", 0))
    assert search_study_name(replace(_options(tmp_path, tiny_art), quick=False)) == "search-cuda"
