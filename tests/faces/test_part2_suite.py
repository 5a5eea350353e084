"""Part 2 as a suite (cnnlab.faces.suite.run_part2) and the bundle of AlexNet's inputs (AlexNetInputs)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from test_part2 import synthetic_faces, untrained_weights

from cnnlab.core.errors import ConfigError
from cnnlab.core.runtime import RuntimeOptions
from cnnlab.faces import Part2Options, Part2Result, run_part2
from cnnlab.faces.run_configs import FeaturesConfig, FeaturesRunConfig, FinetuneConfig, FinetuneRunConfig
from cnnlab.faces.suite import QUICK_ALEXNET_SIZE, QUICK_FACE_PEOPLE, STAGES
from cnnlab.faces.training.alexnet_runs import AlexNetInputs, feature_cache_dir


# ----------------------------------------------------------------------------- AlexNetInputs
def test_alexnet_inputs_load_the_faces_and_weights_a_run_config_asks_for(tmp_path):
    config = FeaturesRunConfig(features=FeaturesConfig(input_size=67, weights="random"))
    inputs = AlexNetInputs.load(config, config.features.weights)
    assert tuple(inputs.faces.train_x.shape[1:]) == (3, 67, 67)  # RGB at the AlexNet input size
    assert inputs.weights["pretrained"] is False and inputs.state_dict["features.0.weight"].shape[0] == 64
    assert inputs.checked(config) is inputs
    runtime = RuntimeOptions(out=tmp_path / "runs")
    assert inputs.cache(runtime) == feature_cache_dir(tmp_path / "runs") == tmp_path / "runs" / "cache" / "features"
    own = AlexNetInputs.load(config, "random", cache_dir=str(tmp_path / "feats"))
    assert own.cache(runtime) == tmp_path / "feats" and own.weights["sha256"] == inputs.weights["sha256"]
    # Faces of another size than the config's are refused in one line, before anything trains.
    other = FinetuneRunConfig(finetune=FinetuneConfig(input_size=95, weights="random"))
    with pytest.raises(ConfigError, match=r"faces are \(3, 67, 67\), AlexNet expects \(3, 95, 95\)"):
        inputs.checked(other)


def test_alexnet_inputs_are_frozen():
    sd, weights = untrained_weights()
    inputs = AlexNetInputs(synthetic_faces(67, 3, per_class=(2, 1, 1)), sd, weights, cache_dir="c")
    assert inputs.cache_dir == Path("c")
    with pytest.raises(AttributeError):
        inputs.weights = {}  # type: ignore[misc]


# ----------------------------------------------------------------------------- run_part2
def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime_ns) of every run folder and its summary.json: a replaced run changes both."""
    out = {}
    for p in sorted(root.iterdir()):
        if (p / "summary.json").is_file():
            st, sm = os.stat(p), os.stat(p / "summary.json")
            out[p.name] = (st.st_ino, sm.st_mtime_ns)
    return out


def test_run_part2_writes_suite_json_and_a_rerun_reuses_everything(tmp_path, caplog):
    from cnnlab.core import progress

    root = tmp_path / "runs"
    options = Part2Options(runtime=RuntimeOptions(out=root, jobs=1, threads=1), quick=True, weights="random")
    with progress.listening() as seen:
        result = run_part2(options)
    assert isinstance(result, Part2Result) and result.path == root / "suites" / "part2" / "suite.json"
    assert list(seen.stage_times()) == list(STAGES)  # the stages of `cnnlab report`'s Part 2, in order
    suite = json.loads(result.path.read_text())
    assert suite["suite"] == "part2" and suite["seeds"] == [0] and suite["quick"] is True
    assert {k: suite[k] for k in result.record()} == json.loads(json.dumps(result.record()))
    assert Part2Result.read(result.path).record() == {k: suite[k] for k in result.record()}  # through core.readback
    # One run per seed in each group, every one a finished run folder of the runs folder.
    ids = [*result.mlp["300"], *result.mlp["800"], *result.cnn, *result.features, *result.finetune]
    assert len(ids) == 5 and all((root / i / "summary.json").is_file() for i in ids)
    assert [r["layer"] for r in result.depth["rows"]][0] == "conv1" and result.depth["grid"] == 6
    assert result.recipes["chosen"] in {r["recipe"] for r in result.recipes["rows"]}
    assert result.finetune_lr["trained_layers"] == "conv4" and result.finetune_lr["min_lr"] > 0
    assert len(result.faces["people"]) == QUICK_FACE_PEOPLE and result.faces["alexnet_input"] == QUICK_ALEXNET_SIZE
    assert result.alexnet["pretrained"] is False
    before = _tree(root)

    # A rerun trains nothing and replaces no run folder; the LR range test comes from its cache.
    (root / "lr-find-finetune" / "lr_find.json").unlink()
    again = run_part2(options)
    assert _tree(root) == before and again.record() == result.record()
    assert not (root / "lr-find-finetune" / "lr_find.json").exists()  # the range test did not run again

    # A damaged cached range test is rebuilt with one warning, to the same record.
    (cached,) = (root / "cache" / "finetune-lr").glob("*.json")
    cached.write_text('{"key": {}, "record": [1, 2')
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        rebuilt = run_part2(options)
    warnings = [r for r in caplog.records if "range test" in r.getMessage()]
    assert len(warnings) == 1 and "computing it again" in warnings[0].getMessage()
    assert rebuilt.finetune_lr == result.finetune_lr and _tree(root) == before
    assert json.loads(cached.read_text())["value"] == result.finetune_lr


@pytest.mark.parametrize(
    "text, message",
    [
        ("[1, 2", "Part 2 suite"),
        ('{"suite": "pooling", "format": 1}', "is not a Part 2 suite.json"),
        ('{"suite": "part2", "format": 1, "faces": {}}', "lacks the Part 2 record"),
        (
            '{"suite": "part2", "format": 1, "faces": {}, "alexnet": {}, "recipes": {}, "depth": {}, '
            '"finetune_lr": {}, "part2": {"mlp": {"300": [7]}, "cnn": [], "features": [], "finetune": []}}',
            "run ids per model group",
        ),
    ],
)
def test_a_damaged_part2_suite_is_one_data_error(tmp_path, text, message):
    from cnnlab.core.errors import DataError

    path = tmp_path / "suite.json"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        Part2Result.read(path)


def test_part2_options_check_their_sources(tmp_path):
    with pytest.raises(ConfigError, match="--faces must not be empty"):
        Part2Options(runtime=RuntimeOptions(out=tmp_path), faces=" ")
    with pytest.raises(ConfigError, match="--weights"):
        Part2Options(runtime=RuntimeOptions(out=tmp_path), weights="")
    options = Part2Options(runtime=RuntimeOptions(out=tmp_path), seeds=2, quick=False)
    assert options.run_seeds == (0, 1) and options.suite_dir == tmp_path / "suites" / "part2"
