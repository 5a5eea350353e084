import dataclasses

import pytest

from cnnlab.art.config import ModelConfig, RunConfig
from cnnlab.core.config import as_ids, parse_override, resolve_config, to_dict
from cnnlab.core.errors import ConfigError
from cnnlab.core.train.config import TrainConfig


def test_defaults_are_the_starter_network():
    cfg = RunConfig()
    assert cfg.model.filters == (16, 16)
    assert cfg.model.layer_kernels == (5, 5) and cfg.model.layer_strides == (2, 2)
    assert cfg.model.fc_sizes == (64,)
    assert cfg.train.batch_size == 16 and cfg.train.epochs == 50
    assert cfg.train.optimizer.name == "adam" and cfg.train.optimizer.lr == pytest.approx(1e-4)


def test_yaml_then_set_override_order(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  epochs: 7\n  optimizer: {name: sgd, lr: 1e-2}\nmodel:\n  filters: [8, 16, 32]\n")
    cfg = resolve_config(RunConfig, path, ["train.epochs=9", "model.kernel_sizes=3"])
    assert cfg.train.epochs == 9  # --set beats YAML
    assert cfg.train.optimizer.name == "sgd" and cfg.train.optimizer.lr == pytest.approx(0.01)
    assert cfg.model.layer_kernels == (3, 3, 3)
    # the resolved config round-trips through plain dicts
    assert resolve_config(RunConfig, None, []) == RunConfig()
    assert to_dict(cfg)["model"]["filters"] == [8, 16, 32]


def test_free_mapping_override():
    cfg = resolve_config(RunConfig, None, ["augment.probabilities.invert=0.25"])
    assert cfg.augment.probabilities == {"invert": 0.25} and cfg.augment.enabled


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.epochs=0", "positive"),
        ("train.epochs=-3", "positive"),
        ("train.optimizer.name=lbfgs", "unknown optimizer"),
        ("train.scheduler.name=warmup", "unknown scheduler"),
        ("nope=1", "unknown config key"),
        ("train.optimizer.lr=[", "not valid YAML"),
        ("train.epochs", "expected key=value"),
        ("model.kernel_sizes=[3,3,3]", "3 entries for 2 conv layers"),
        ("model.dropout=1.5", "dropout"),
        ("train.batch_size=abc", "integer"),
    ],
)
def test_bad_overrides_raise_config_error(override, message):
    with pytest.raises(ConfigError, match=message):
        resolve_config(RunConfig, None, [override])


def test_malformed_yaml_names_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="malformed YAML in .*bad.yaml"):
        resolve_config(RunConfig, bad)
    with pytest.raises(ConfigError, match="not found"):
        resolve_config(RunConfig, tmp_path / "missing.yaml")


def test_parse_override_values():
    assert parse_override("a.b=[1, 2]") == (["a", "b"], [1, 2])
    assert parse_override("x=true") == (["x"], True)


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainConfig().epochs = 3  # type: ignore[misc]
    assert ModelConfig(kernel_sizes=(3, 5)).layer_kernels == (3, 5)


def test_shipped_example_configs_resolve():
    from pathlib import Path

    from cnnlab.art.models import create_model

    for path in sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml")):
        cfg = resolve_config(RunConfig, path)
        create_model(cfg.model.name, num_classes=11, config=cfg.model, image_size=cfg.data.image_size)


def test_unknown_augment_transform_is_a_config_error_naming_the_choices():
    with pytest.raises(ConfigError, match="unknown transform 'rotate' in augment.probabilities .*hflip"):
        resolve_config(RunConfig, None, ["augment.probabilities.rotate=0.5"])


def test_repeat_and_seed_ids_one_rule():
    """One rule for --repeats and --seeds everywhere (the CLI's text included): a count, or distinct seeds in [0, 2**32).
    (The string form of as_ids is the old CLI's, kept for API callers.)"""
    from cnnlab.art.suites import SuiteOptions
    from cnnlab.core.config import seed_list
    from cnnlab.report.options import ReportOptions

    assert as_ids(3, "--repeats", "repeat") == (0, 1, 2) and as_ids([4, 1], "--seeds", "seed") == (4, 1)
    assert (
        as_ids("3", "--seeds") == (0, 1, 2) and as_ids("0,2", "--seeds") == (0, 2) and as_ids("4,", "--seeds") == (4,)
    )
    assert seed_list("4,") == (4,) and as_ids([2**32 - 1], "--seeds") == (2**32 - 1,)
    for bad, why in (
        (0, "count from 1"),
        (10**9, "count from 1"),
        ([], "from 1 to"),
        ([1, 1], "twice"),
        ([-1], r"\[0, 2\*\*32\)"),
        ([2**32], r"\[0, 2\*\*32\)"),
        ([True], "integer"),
        ([0.5], "integer"),
        ("x", "a count"),
        ("1,1", "twice"),
    ):
        with pytest.raises(ConfigError, match=f"--seeds .*{why}"):
            as_ids(bad, "--seeds", "seed")
    assert SuiteOptions(repeats=2).repeats == (0, 1) and ReportOptions(seeds=[2, 0]).seeds == (2, 0)
    with pytest.raises(ConfigError, match="--repeats"):
        SuiteOptions(repeats=[0, 0])
    with pytest.raises(ConfigError, match="--seeds"):
        ReportOptions(seeds=[1, 1])
