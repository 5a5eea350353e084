"""Part 2's one configuration system: run configs, the CLI flags that mirror them, the face-model registry."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from cnnlab.cli.app import build_parser, main
from cnnlab.cli.common import config_extra, field_default, resolve_command_config
from cnnlab.core.config import resolve_config, to_dict
from cnnlab.core.errors import ConfigError
from cnnlab.core.runtime import RuntimeOptions
from cnnlab.core.train.config import EarlyStoppingConfig, SchedulerConfig
from cnnlab.faces.alexnet import MIN_INPUT_SIZE
from cnnlab.faces.data.dataset import COURSE_ACTORS
from cnnlab.faces.kinds import FACE_KINDS, FINETUNE_KIND, checkpoint_kind
from cnnlab.faces.models.checkpoints import build_model, checkpoint_problem, load_checkpoint, save_checkpoint
from cnnlab.faces.models.heads import FaceAlexNet, FeatureClassifier
from cnnlab.faces.models.mlp import MLP
from cnnlab.faces.run_configs import (
    FaceDataConfig,
    FeaturesConfig,
    FeaturesRunConfig,
    FinetuneConfig,
    FinetuneRunConfig,
    MLPConfig,
    MLPRunConfig,
    with_epochs,
    with_seed,
)
from cnnlab.faces.training.small import describe_mlp

COMMANDS = {"mlp": MLPRunConfig, "weights": MLPRunConfig, "features": FeaturesRunConfig, "finetune": FinetuneRunConfig}
TINY = ["--actors", "s1,s2,s3", "--train-per-actor", "4", "--min-eval-per-actor", "2"]


# ----------------------------------------------------------------------------- the dataclasses
def test_each_command_has_its_own_training_defaults():
    mlp, feat, fine = MLPRunConfig().train, FeaturesRunConfig().train, FinetuneRunConfig().train
    assert (mlp.epochs, mlp.batch_size, mlp.optimizer.name, mlp.optimizer.lr, mlp.optimizer.weight_decay) == (
        100,
        32,
        "adam",
        3e-4,
        1e-2,
    )
    assert mlp.early_stopping.patience is None
    assert (feat.epochs, feat.optimizer.lr, feat.optimizer.weight_decay) == (30, 1e-4, 1e-4)
    assert (fine.epochs, fine.optimizer.lr, fine.optimizer.weight_decay) == (30, 1e-4, 0.0)
    assert fine.scheduler.warmup_epochs == 2 and mlp.scheduler.warmup_epochs == feat.scheduler.warmup_epochs == 0
    assert (mlp.early_stopping.monitor, feat.early_stopping.monitor, fine.early_stopping.monitor) == (
        "val_loss",
        "val_acc",
        "val_acc",
    )
    assert fine.early_stopping.patience == 6 and feat.early_stopping.patience is None
    # A YAML/--set override of one train field keeps the command's other defaults.
    cfg = resolve_config(FeaturesRunConfig, None, ["train.epochs=3"])
    assert cfg.train.epochs == 3 and cfg.train.optimizer.weight_decay == 1e-4
    assert with_epochs(with_seed(cfg, 4), 2).train == replace(cfg.train, seed=4, epochs=2)


def test_configs_validate():
    assert FaceDataConfig(actors="course").actors == COURSE_ACTORS  # "course" expanded, as everywhere
    assert FaceDataConfig(source="OLIVETTI", actors=("s1,s2",)).actors == ("s1", "s2")
    cases = [
        (lambda: MLPConfig(activation="sigmoid"), "activation"),
        (lambda: MLPConfig(init="ones"), "weight initialisation"),
        (lambda: MLPConfig(channels=2), "mlp.channels"),
        (lambda: MLPConfig(unit_rule="random"), "unit rule"),
        (lambda: FeaturesConfig(layer="conv9"), "AlexNet layer"),
        (lambda: FeaturesConfig(input_size=MIN_INPUT_SIZE - 1), f">= {MIN_INPUT_SIZE}"),
        (lambda: FeaturesConfig(head_hidden=(0,)), "head_hidden"),
        (lambda: FinetuneConfig(freeze="half"), "freeze mode"),
        (lambda: FinetuneConfig(lr_scale=0), "lr_scale"),
        (lambda: FaceDataConfig(source=" "), "data.source"),
        (lambda: resolve_config(MLPRunConfig, None, ["data.split.train_per_actor=0"]), "train_per_actor"),
        (lambda: resolve_config(MLPRunConfig, None, ["train.optimizer.name=lbfgs"]), "unknown optimizer"),
    ]
    for make, match in cases:
        with pytest.raises(ConfigError, match=match):
            make()


def test_describe_mlp_follows_the_training_config():
    base = MLPRunConfig()
    text = describe_mlp(base, 6)
    assert "100 epochs, model kept at the epoch of lowest validation loss" in text and "-> 6 logits" in text
    assert "adam lr 0.0003, L2 weight decay 0.01, batch 32" in text and "early" not in text
    stop = replace(
        base,
        train=replace(
            base.train,
            early_stopping=EarlyStoppingConfig(patience=4, monitor="val_acc"),
            scheduler=SchedulerConfig(name="cosine"),
        ),
        mlp=replace(base.mlp, flip=True),
    )
    text = describe_mlp(stop, 6)
    assert "stopped early after 4 epochs without improvement in validation accuracy" in text
    assert "highest validation accuracy" in text and "lowest validation loss" not in text
    assert "cosine learning-rate schedule" in text and "horizontal flips" in text


# ----------------------------------------------------------------------------- the face-model registry
@pytest.mark.parametrize("kind", FACE_KINDS.names())
def test_every_registered_face_model_builds_and_runs(kind):
    torch.manual_seed(0)
    model = build_model(kind, {}, num_classes=3, image_size=MIN_INPUT_SIZE).eval()
    assert model.input_shape[1:] == (MIN_INPUT_SIZE, MIN_INPUT_SIZE)
    with torch.no_grad():
        out = model(torch.rand(2, *model.input_shape))
    assert out.shape == (2, 3) and torch.isfinite(out).all()


def test_registry_names_the_four_kinds_and_old_mlp_checkpoints_load(tmp_path):
    assert FACE_KINDS.names() == ["alexnet-features", "alexnet-finetune", "face-cnn", "mlp"]
    with pytest.raises(ConfigError, match="unknown Part 2 model kind 'resnet'"):
        build_model("resnet", {}, 3)
    mlp = MLP(MLPConfig(image_size=8, hidden=5), 3)
    old = {
        "num_classes": 3,
        **{
            k: v
            for k, v in to_dict(mlp.config).items()
            if k not in ("flip", "unit_rule", "units_per_class", "max_tiles")
        },
    }
    save_checkpoint(
        tmp_path / "m.pt", mlp, kind="mlp", config=old, class_names=["a", "b", "c"], image_size=8, channels=1
    )
    clf = load_checkpoint(tmp_path / "m.pt")  # written before num_classes left the config
    assert clf.model.config == mlp.config and clf.model.num_classes == 3


@pytest.mark.parametrize("name", FACE_KINDS.names())
def test_every_part2_kind_is_one_record_that_core_knows(name):
    """Its lazily named functions exist, its run config is a Part 2 one, and core.runs sees the same kind."""
    from cnnlab.core.runs.catalog import kinds
    from cnnlab.core.runs.kinds import RUN_KINDS
    from cnnlab.faces.kinds import FaceKind, face_kind, register_face_kind

    record = face_kind(name)
    for fn in (record.build, record.train, record.run_kind.load_model, record.run_kind.inspect):
        assert callable(fn.resolve())  # a typo in a "module:function" path fails here, not in a user's run
    config = record.config()
    assert record.read_config(to_dict(config)) == config and config.channels in (1, 3) and config.image_size > 0
    core = RUN_KINDS.create(name)
    assert core.part == "Part 2" and core.files == ("model.pt",) and name in kinds()
    with pytest.raises(ValueError, match="already registered"):
        register_face_kind(FaceKind(name, "again", record.config, build=record.build, train=record.train))


def test_fine_tuned_checkpoints_have_one_kind_and_old_ones_still_load():
    """A fine-tuning run's model.pt says alexnet-finetune whichever recipe wrote it; the network follows its
    config. Checkpoints written before said "alexnet" (classic recipes: an alias) or alexnet-features."""
    assert checkpoint_kind("alexnet") is FINETUNE_KIND and "alexnet" not in FACE_KINDS
    header = {
        "format": "cnnlab-face-classifier",
        "format_version": 1,
        "config": {"dropout": 0.5},
        "class_names": ["a", "b"],
        "image_size": MIN_INPUT_SIZE,
        "channels": 3,
        "state_dict": {},
    }
    assert checkpoint_problem({**header, "kind": "alexnet"}) is None
    assert "unknown model kind 'resnet'" in checkpoint_problem({**header, "kind": "resnet"})
    with torch.device("meta"):  # shapes only: a whole AlexNet allocates nothing
        assert isinstance(build_model("alexnet", {"dropout": 0.5}, 2), FaceAlexNet)
        assert isinstance(build_model(FINETUNE_KIND.name, {"dropout": 0.5}, 2), FaceAlexNet)
        from_features = {"layer": "conv4", "grid": None, "hidden": [8], "dropout": 0.0}
        model = build_model(FINETUNE_KIND.name, from_features, 2, image_size=MIN_INPUT_SIZE)
        assert isinstance(model, FeatureClassifier) and model.layer == "conv4"


# ----------------------------------------------------------------------------- the CLI
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_cli_defaults_are_the_dataclass_defaults(command):
    cls = COMMANDS[command]
    args = build_parser().parse_args(["part2", command])
    assert config_extra(args) == {} and args.seeds is None  # nothing given: the config decides
    assert resolve_command_config(cls, args) == cls()
    p = build_parser()
    helps = {a.dest: a.help for a in _subparser(p, command)._actions}
    assert f"default: {field_default(cls, 'train.epochs')};" in helps["epochs"]
    assert field_default(cls, "train.epochs") == cls().train.epochs


def _subparser(parser, command):
    part2 = next(a for a in parser._actions if a.dest == "command").choices["part2"]
    return next(a for a in part2._actions if a.dest == "part2_command").choices[command]


def test_cli_flags_yaml_and_set_resolve_in_order():
    parse = build_parser().parse_args
    args = parse(
        [
            "part2",
            "finetune",
            "--lr",
            "1e-3",
            "--freeze",
            "none",
            "--input-size",
            "99",
            "--actors",
            "course",
            "--set",
            "finetune.freeze=all-but-last",
        ]
    )
    cfg = resolve_command_config(FinetuneRunConfig, args)
    assert cfg.train.optimizer.lr == 1e-3 and cfg.finetune.freeze == "all-but-last" and cfg.finetune.input_size == 99
    assert cfg.data.actors == COURSE_ACTORS and cfg.train.epochs == FinetuneRunConfig().train.epochs == 30
    args = parse(["part2", "features", "--head-hidden", "0", "--weights", "random", "--split-seed", "3"])
    cfg = resolve_command_config(FeaturesRunConfig, args)
    assert cfg.features.head_hidden == () and cfg.features.weights == "random" and cfg.data.split.seed == 3
    args = parse(["part2", "mlp", "--rgb", "--flip", "--patience", "5"])
    cfg = resolve_command_config(MLPRunConfig, args)
    assert cfg.mlp.channels == 3 and cfg.mlp.flip and cfg.train.early_stopping.patience == 5


def test_cli_mlp_yaml_config_and_set(tmp_path, capsys):
    yaml = tmp_path / "mlp.yaml"
    yaml.write_text("mlp: {hidden: 5, image_size: 12}\ntrain: {epochs: 2, batch_size: 4}\n")
    rc = main(
        [
            "part2",
            "mlp",
            *TINY,
            "--config",
            str(yaml),
            "--hidden",
            "6",
            "--set",
            "mlp.hidden=7",
            "--out",
            str(tmp_path / "runs"),
            "--json",
        ]
    )
    s = json.loads(capsys.readouterr().out)
    assert (
        rc == 0 and s["architecture"]["hidden"] == 7 and s["architecture"]["image_size"] == 12 and s["epochs_run"] == 2
    )
    saved = json.loads((tmp_path / "runs" / s["run_id"] / "config.json").read_text())["config"]
    assert (
        saved["mlp"]["hidden"] == 7 and saved["train"]["batch_size"] == 4 and saved["train"]["optimizer"]["lr"] == 3e-4
    )
    assert saved["data"]["actors"] == ["s1", "s2", "s3"] and s["data"]["classes"] == ["s1", "s2", "s3"]


def test_cli_weights_runs_one_mlp_per_size_and_seed(tmp_path, capsys):
    rc = main(
        [
            "part2",
            "weights",
            *TINY,
            "--hidden",
            "4",
            "6",
            "--image-size",
            "10",
            "--epochs",
            "1",
            "--seeds",
            "0,2",
            "--out",
            str(tmp_path / "runs"),
            "--json",
        ]
    )
    runs = json.loads(capsys.readouterr().out)
    assert rc == 0 and sorted((r["architecture"]["hidden"], r["seed"]) for r in runs) == [
        (4, 0),
        (4, 2),
        (6, 0),
        (6, 2),
    ]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["part2", "mlp", "--set", "mlp.hiden=3"], "unknown config key mlp.hiden"),
        (["part2", "mlp", "--set", "mlp.activation=sigmoid"], "unknown MLP activation"),
        (["part2", "mlp", "--set", "train.epochs"], "malformed override"),
        (["part2", "weights", "--set", "train.optimizer.name=lbfgs"], "unknown optimizer"),
        (["part2", "features", "--input-size", "20"], f"features.input_size must be >= {MIN_INPUT_SIZE}"),
        (["part2", "finetune", "--set", "finetune.freeze=half"], "unknown freeze mode"),
        (["part2", "features", "--head-hidden", "a,b"], "--head-hidden"),
    ],
)
def test_bad_config_is_one_line_exit_2(tmp_path, capsys, argv, message):
    rc = main([*argv, "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("cnnlab: error: ") and message in err[0], err
    assert not (tmp_path / "runs").exists()


# ----------------------------------------------------------------------------- the report
def test_part2_uses_the_run_configs(tmp_path):
    from cnnlab.faces.suite import (
        MLP_HIDDEN,
        QUICK_ALEXNET_SIZE,
        QUICK_PART2_EPOCHS,
        Part2Options,
        mlp_group,
        part2_configs,
    )
    from cnnlab.report.collect import part2_options
    from cnnlab.report.options import ReportOptions

    full = part2_configs(Part2Options(runtime=RuntimeOptions(out=tmp_path / "r")), None, None)
    assert full["features"] == FeaturesRunConfig() and full["finetune"] == FinetuneRunConfig()
    assert [full[f"mlp{h}"] for h in MLP_HIDDEN] == [
        replace(MLPRunConfig(), mlp=MLPConfig(hidden=h)) for h in (300, 800)
    ]
    # The report's Part 2 is Part 2's own suite on the report's options.
    report = ReportOptions(runtime=RuntimeOptions(out=tmp_path / "r"), report_dir=tmp_path / "p", quick=True)
    assert part2_options(report) == Part2Options(runtime=report.runtime, quick=True)
    quick = part2_configs(part2_options(report), ["s1", "s2"], "random")
    assert quick[mlp_group(300)].train == replace(MLPRunConfig().train, epochs=QUICK_PART2_EPOCHS)
    assert quick["finetune"].train == replace(FinetuneRunConfig().train, epochs=QUICK_PART2_EPOCHS)
    assert quick["features"].features == FeaturesConfig(input_size=QUICK_ALEXNET_SIZE, weights="random")
    assert quick[mlp_group(800)].data == FaceDataConfig(actors=("s1", "s2"))
