"""Bad input: hostile files and inputs give one-line errors (or are skipped with a warning), never a
traceback, a hang or a huge allocation: checkpoints (5), decompression bombs (6), special files (7),
--out paths of explain (9), non-UTF-8 names and model sizes (11), directories given as images (14).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cli_helpers import one_line_error
from cnnlab.cli.app import main
from cnnlab.core.config import resolve_config, to_dict
from cnnlab.core.errors import CnnlabError, ConfigError
from cnnlab.faces.models.checkpoints import load_checkpoint, load_image, predict, save_checkpoint
from cnnlab.faces.models.mlp import MLP
from cnnlab.faces.run_configs import MLPConfig
from faces_helpers import png_bomb


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    """A valid tiny MLP checkpoint (grayscale 12x12, 3 classes) and a face image beside it."""
    d = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    mlp = MLP(MLPConfig(image_size=12, hidden=8, activation="relu"), 3)
    save_checkpoint(
        d / "mlp.pt",
        mlp,
        kind="mlp",
        config=to_dict(mlp.config),
        class_names=["a", "b", "c"],
        image_size=12,
        channels=1,
        meta={"description": "tiny MLP"},
    )
    Image.fromarray((torch.rand(40, 30, 3) * 255).byte().numpy()).save(d / "face.png")
    return d / "mlp.pt"


# ----------------------------------------------------------------------------- 5: checkpoints
def _edit(obj: dict, key: str, value) -> dict:
    obj = dict(obj)
    if value is KeyError:
        del obj[key]
    else:
        obj[key] = value
    return obj


BAD_CHECKPOINTS = {
    "class_names missing": ("class_names", KeyError),
    "state_dict missing": ("state_dict", KeyError),
    "format_version abc": ("format_version", "abc"),
    "format_version 0": ("format_version", 0),
    "format_version true": ("format_version", True),
    "config an int": ("config", 5),
    "config bad value": ("config", {"hidden": "many"}),
    "config huge hidden": ("config", {"hidden": 10**9, "image_size": 12}),
    "class_names an int": ("class_names", 5),
    "class_names ints": ("class_names", [1, 2, 3]),
    "class_names empty": ("class_names", []),
    "state_dict a list": ("state_dict", [1, 2]),
    "state_dict of strings": ("state_dict", {"layer.weight": "x"}),
    "channels 2": ("channels", 2),
    "image_size 0": ("image_size", 0),
    "image_size 100000": ("image_size", 100000),
    "image_size a string": ("image_size", "28"),
    "kind unknown": ("kind", "resnet"),
    "meta a list": ("meta", [1]),
    "meta description an int": ("meta", {"description": 5}),
}


def test_checkpoint_texts_with_mathtext_and_undecodable_bytes_still_explain(ckpt, tmp_path):
    from cnnlab.faces.inspect.explain import explain_image

    obj = torch.load(ckpt, weights_only=True)
    odd = {**obj, "class_names": ["$a", "b\udcff", "c_$x^2$"], "meta": {"description": "a $5 model \udcfe"}}
    torch.save(odd, tmp_path / "odd.pt")
    result = explain_image(ckpt.parent / "face.png", tmp_path / "odd.pt", tmp_path / "odd.png")
    assert result.path.is_file() and len(result.classes) == 2


@pytest.mark.parametrize("case", list(BAD_CHECKPOINTS))
def test_hand_edited_checkpoints_are_one_line_errors(ckpt, tmp_path, case, capsys):
    key, value = BAD_CHECKPOINTS[case]
    bad = tmp_path / "bad.pt"
    torch.save(_edit(torch.load(ckpt, weights_only=True), key, value), bad)
    with pytest.raises(CnnlabError) as err:
        load_checkpoint(bad)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)
    code = main(["predict", str(ckpt.parent / "face.png"), "--checkpoint", str(bad)])
    one_line_error(capsys, code)


def test_state_dict_shapes_must_match_the_model(ckpt, tmp_path):
    obj = torch.load(ckpt, weights_only=True)
    sd = dict(obj["state_dict"])
    name = next(k for k in sd if k.endswith("weight"))
    sd[name] = torch.zeros(2, 2)
    torch.save({**obj, "state_dict": sd}, tmp_path / "bad.pt")
    with pytest.raises(CnnlabError, match="does not match"):
        load_checkpoint(tmp_path / "bad.pt")
    assert predict(ckpt.parent / "face.png", ckpt)[0][0] in ("a", "b", "c")  # the good one still loads


def _fake_art_run(root: Path) -> Path:
    from cnnlab.art.config import RunConfig
    from cnnlab.art.models import create_model

    run = root / "cnn-0123456789ab"
    run.mkdir(parents=True)
    config = RunConfig()
    (run / "config.json").write_text(
        json.dumps({"kind": "cnn", "config": to_dict(config), "data": {"classes": ["a", "b"]}})
    )
    (run / "summary.json").write_text(json.dumps({"run_id": run.name, "reported_model": "final"}))
    model = create_model("simple_cnn", num_classes=2, config=config.model, image_size=config.data.image_size)
    torch.save(model.state_dict(), run / "final.pt")
    return run


ART_RUN_DAMAGE = {
    "config garbage": lambda r: (r / "config.json").write_text("{garbage"),
    "config a list": lambda r: (r / "config.json").write_text("[]"),
    "classes missing": lambda r: (r / "config.json").write_text(json.dumps({"config": {}, "data": {}})),
    "config invalid": lambda r: (r / "config.json").write_text(
        json.dumps({"config": {"model": {"filters": [0]}}, "data": {"classes": ["a", "b"]}})
    ),
    "weights missing": lambda r: (r / "final.pt").unlink(),
    "weights a list": lambda r: torch.save([1, 2], r / "final.pt"),
    "weights empty file": lambda r: (r / "final.pt").write_bytes(b""),
    "weights wrong shapes": lambda r: torch.save({"features.0.0.weight": torch.zeros(1)}, r / "final.pt"),
    "summary garbage": lambda r: (r / "summary.json").write_text("{"),
    "reported model unknown": lambda r: (r / "summary.json").write_text(json.dumps({"reported_model": "../../etc"})),
}


@pytest.mark.parametrize("case", list(ART_RUN_DAMAGE))
def test_damaged_part1_run_folders_are_one_line_errors(tmp_path, case):
    from cnnlab.art.run import load_run_model

    run = _fake_art_run(tmp_path)
    assert not load_run_model(run).training  # the intact folder loads
    ART_RUN_DAMAGE[case](run)
    with pytest.raises(CnnlabError) as err:
        load_run_model(run)
    assert "\n" not in str(err.value) and str(run) in str(err.value)


# ----------------------------------------------------------------------------- 6: decompression bombs
@pytest.mark.parametrize("size", [(20000, 20000), (9000, 9000)])
def test_image_over_the_pixel_limit_is_aone_line_error(ckpt, tmp_path, size, capsys):
    from cnnlab.core.images import MAX_IMAGE_PIXELS

    assert size[0] * size[1] > MAX_IMAGE_PIXELS
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(*size))
    with pytest.raises(CnnlabError, match="pixels"):
        load_image(bomb, 12, 1)
    code = main(["predict", str(bomb), "--checkpoint", str(ckpt)])
    assert "pixels" in one_line_error(capsys, code)
    code = main(["explain", str(bomb), "--checkpoint", str(ckpt), "--out", str(tmp_path / "x.png")])
    assert "pixels" in one_line_error(capsys, code)


def _art_folder(root: Path, per_class: int = 6) -> Path:
    rng = np.random.default_rng(1)
    for c, name in enumerate(("monet", "sandby")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            img = rng.integers(0, 80, (24, 32, 3), dtype=np.uint8)
            img[..., c] += 170
            Image.fromarray(img).save(root / name / f"img{i}.png")
    return root


def test_art_folder_skips_an_image_over_the_pixel_limit(tmp_path, caplog):
    from cnnlab.art.data.folder import load_folder

    art = _art_folder(tmp_path / "art")
    (art / "monet" / "bomb.png").write_bytes(png_bomb(9000, 9000))
    with caplog.at_level("WARNING"):
        found = load_folder(art, 16, cache_dir=tmp_path / "cache")
    assert len(found.labels) == 12
    (reason,) = [r for f, r in found.skipped if f.endswith("bomb.png")]
    assert "pixels" in reason and "bomb.png" in caplog.text


# ----------------------------------------------------------------------------- 7: special files
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_special_files_in_class_folders_are_skipped_not_read(tmp_path):
    art = _art_folder(tmp_path / "art")
    os.mkfifo(art / "monet" / "pipe.png")
    os.symlink("/dev/zero", art / "sandby" / "zero.png")
    os.symlink(art / "monet" / "img0.png", art / "sandby" / "link-to-a-real-image.png")
    os.mkfifo(art / "top-level-pipe")
    code = (
        "import logging, sys; logging.basicConfig(level=logging.WARNING)\n"
        "from cnnlab.art.data.folder import load_folder\n"
        f"found = load_folder(__import__('pathlib').Path({str(art)!r}), 16, cache_dir={str(tmp_path / 'cache')!r})\n"
        "print(len(found.labels))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "13"  # 12 images and the symlink to a regular image file
    for name in ("pipe.png", "zero.png", "top-level-pipe"):
        assert name in proc.stderr and "not a regular file" in proc.stderr


# ----------------------------------------------------------------------------- 9 and 14: explain --out, directories
def test_explain_out_errors_are_one_line(ckpt, tmp_path, capsys):
    face = str(ckpt.parent / "face.png")
    (tmp_path / "dir.png").mkdir()
    (tmp_path / "afile").write_text("x")
    cases = {
        str(tmp_path / "result"): "must end in one of",
        str(tmp_path / "dir.png"): "is a directory",
        str(tmp_path / "afile" / "x.png"): "cannot write",
        "/proc/cnnlab-no-such-dir/x.png": "cannot write",
    }
    for out, message in cases.items():
        code = main(["explain", face, "--checkpoint", str(ckpt), "--out", out])
        assert message in one_line_error(capsys, code), out
    assert main(["explain", face, "--checkpoint", str(ckpt), "--out", str(tmp_path / "ok.png")]) == 0


def test_predict_and_explain_on_a_directory_say_so(ckpt, tmp_path, capsys):
    code = main(["predict", str(tmp_path), "--checkpoint", str(ckpt)])
    assert "is a directory" in one_line_error(capsys, code)
    code = main(["explain", str(tmp_path), "--checkpoint", str(ckpt), "--out", str(tmp_path / "x.png")])
    assert "is a directory" in one_line_error(capsys, code)
    code = main(["predict", str(tmp_path / "missing.png"), "--checkpoint", str(ckpt)])
    assert "image not found" in one_line_error(capsys, code)


# ----------------------------------------------------------------------------- 11: names and model sizes
@pytest.mark.slow
def test_non_utf8_data_path_trains_and_keeps_its_run(tmp_path):
    art = _art_folder(tmp_path / "art")
    weird = os.fsencode(tmp_path) + b"/art\xff\xfe"
    os.rename(art, weird)
    out = tmp_path / "runs"
    proc = subprocess.run(
        [sys.executable, "-m", "cnnlab", "train", "--data", weird, "--epochs", "2", "--out", str(out), "--json"],
        capture_output=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    summary = json.loads(proc.stdout)
    run = out / summary["run_id"]
    assert (run / "learning_curves.png").is_file() and (run / "summary.json").is_file()
    # the run stays reusable: the same command finds it in the cache
    again = subprocess.run(
        [sys.executable, "-m", "cnnlab", "train", "--data", weird, "--epochs", "2", "--out", str(out)],
        capture_output=True,
        timeout=300,
    )
    assert again.returncode == 0 and b"(cached)" in again.stdout


@pytest.mark.parametrize("override", ["model.filters=[100000]", "model.fc_sizes=[100000000]"])
def test_oversized_models_are_refused_before_allocating(tmp_path, capsys, override):
    code = main(["train", "--epochs", "1", "--out", str(tmp_path / "runs"), "--set", override])
    assert "parameters" in one_line_error(capsys, code)
    code = main(["describe", "--set", override])
    assert "parameters" in one_line_error(capsys, code)


def test_oversized_part2_models_are_config_errors():
    from cnnlab.faces.models.heads import FeatureHead
    from cnnlab.faces.run_configs import MLPRunConfig

    with pytest.raises(ConfigError, match="parameters"):
        resolve_config(MLPRunConfig, None, ["mlp.hidden=100000000"])
    with pytest.raises(ConfigError, match="parameters"):
        FeatureHead(256 * 13 * 13, [100_000_000], 6)  # conv4 at 227: checked before the 17 TB allocation


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["model.batch_norm=true", "model.pool=true"],
        ["model.weight_norm=true", "model.filters=[8,16,32]", "model.paddings=2", "model.fc_sizes=[32,16]"],
    ],
)
def test_parameter_count_from_the_config_matches_the_built_model(overrides):
    from cnnlab.art.config import RunConfig
    from cnnlab.art.models import count_parameters, create_model, parameter_count

    config = resolve_config(RunConfig, None, overrides)
    model = create_model("simple_cnn", num_classes=5, config=config.model, image_size=50)
    assert parameter_count(config.model, 5, 3, 50) == count_parameters(model)
