"""AlexNet feature caches read back as untrusted input (issue 30, items 4 and 11): a cache of the wrong
width, swapped splits, NaN, an .npz, a crafted .npy header, a folder at the cache path are rebuilt with one
warning; a --cache-dir that is a file is one line, exit status 2. Run ids do not change."""

from __future__ import annotations

import json
import logging
import struct

import numpy as np
import pytest
import torch
from test_part2 import synthetic_faces, untrained_weights

from cnnlab.cli.app import main
from cnnlab.core.errors import OutputError
from cnnlab.core.runtime import RuntimeOptions
from cnnlab.core.train.config import OptimizerConfig, TrainConfig
from cnnlab.faces.alexnet import features as FE
from cnnlab.faces.run_configs import FeaturesConfig, FeaturesRunConfig
from cnnlab.faces.training.alexnet_runs import AlexNetInputs, layer_features
from cnnlab.faces.training.transfer import alexnet_features

LAYER, WIDTH = "conv4", 256 * 3 * 3  # conv4 of a 67x67 face


@pytest.fixture(scope="module")
def faces():
    return synthetic_faces(67, 3, per_class=(2, 1, 1))


@pytest.fixture(scope="module")
def weights():
    return untrained_weights()


def _features(faces, weights, cache, caplog=None):
    sd, info = weights
    caplog and caplog.clear()
    feats, finfo = layer_features(AlexNetInputs(faces, sd, info, extract_batch_size=8), [LAYER], cache, "cpu")
    return feats[LAYER], finfo


def _files(cache) -> dict[str, tuple]:
    """{split: (.npy path, record)} of the cache folder."""
    out = {}
    for rec_path in cache.glob("*.json"):
        rec = json.loads(rec_path.read_text())
        out[rec["data"].rsplit(":", 1)[1]] = (rec_path.with_suffix(".npy"), rec)
    return out


def _rewrite(path, arr: np.ndarray, rec: dict | None = None) -> None:
    """Replace a cache file by `arr`, its record kept consistent (so that the check under test is the one
    that must catch it, not the record's hash)."""
    np.save(path, arr, allow_pickle=False)
    if rec is not None:
        rec = {**rec, "sha256": FE._array_sha256(arr), "features": list(arr.shape)}
        path.with_suffix(".json").write_text(json.dumps(rec))


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.fixture
def cached(tmp_path, faces, weights):
    cache = tmp_path / "cache"
    first, finfo = _features(faces, weights, cache)
    assert finfo["cache_hits"] == [] and {k: v.shape for k, v in first.items()} == {
        "train": (6, WIDTH),
        "val": (3, WIDTH),
        "test": (3, WIDTH),
    }
    again, finfo = _features(faces, weights, cache)
    assert finfo["cache_hits"] == ["train", "val", "test"]
    return cache, first


# ------------------------------------------------------------------------------------------ item 4
def test_a_cache_of_the_wrong_width_is_rebuilt_in_one_split(cached, faces, weights, caplog):
    cache, first = cached
    path, rec = _files(cache)["train"]
    _rewrite(path, np.zeros((6, WIDTH + 5), np.float32), rec)  # one split only, a consistent record
    with caplog.at_level(logging.WARNING):
        again, finfo = _features(faces, weights, cache, caplog)
    assert finfo["cache_hits"] == ["val", "test"]
    assert torch.equal(again["train"], first["train"]) and torch.equal(again["val"], first["val"])
    (warning,) = _warnings(caplog)
    assert "has shape (6, 2309), expected 6x2304" in warning and "rebuilding" in warning
    assert np.load(path).shape == (6, WIDTH)  # rebuilt in place


def test_swapped_validation_and_test_caches_are_not_used(cached, faces, weights, caplog):
    cache, first = cached
    files = _files(cache)
    val, test = files["val"][0], files["test"][0]
    val_bytes, test_bytes = val.read_bytes(), test.read_bytes()
    val.write_bytes(test_bytes)
    test.write_bytes(val_bytes)
    with caplog.at_level(logging.WARNING):
        again, _ = _features(faces, weights, cache, caplog)
    assert torch.equal(again["val"], first["val"]) and torch.equal(again["test"], first["test"])
    assert len(_warnings(caplog)) == 2 and all("does not hold the activations" in w for w in _warnings(caplog))
    # Records swapped too: each names the other split's key.
    for p in (val, test):
        p.with_suffix(".json").rename(p.with_suffix(".tmp"))
    val.with_suffix(".tmp").rename(test.with_suffix(".json"))
    test.with_suffix(".tmp").rename(val.with_suffix(".json"))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        again, _ = _features(faces, weights, cache, caplog)
    assert torch.equal(again["val"], first["val"]) and torch.equal(again["test"], first["test"])
    assert len(_warnings(caplog)) == 2 and all("names another key" in w for w in _warnings(caplog))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_caches_are_rebuilt_and_training_goes_on(tmp_path, faces, weights, caplog, bad):
    sd, info = weights
    settings = FeaturesConfig(layer=LAYER, head_hidden=(8,), input_size=67, weights="random")
    config = FeaturesRunConfig(
        features=settings, train=TrainConfig(epochs=2, batch_size=4, optimizer=OptimizerConfig(lr=1e-3))
    )
    run = alexnet_features(
        AlexNetInputs(faces, sd, info), config, RuntimeOptions(out=tmp_path / "runs"), write_plots=False
    )
    path, rec = _files(tmp_path / "runs" / "cache" / "features")["train"]
    arr = np.load(path)
    arr[2, 7] = bad
    _rewrite(path, arr, rec)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        rerun = alexnet_features(
            AlexNetInputs(faces, sd, info), config, RuntimeOptions(out=tmp_path / "runs"), force=True, write_plots=False
        )
    assert rerun.path.name == run.path.name  # the same run id
    assert rerun.summary["cache_hits"] == ["val", "test"]
    assert rerun.summary["test_acc"] == run.summary["test_acc"] and rerun.summary["val_acc"] == run.summary["val_acc"]
    (warning,) = _warnings(caplog)
    assert "NaN or infinite" in warning and np.isfinite(np.load(path)).all()


# ----------------------------------------------------------------------------------------- item 11
def _huge_npy_header(path, shape=(6, 400_000_000_000)) -> None:
    """A .npy whose header claims 4.37 TiB of float32, followed by a few bytes."""
    header = repr({"descr": "<f4", "fortran_order": False, "shape": shape}).encode("latin1")
    pad = 64 - (10 + len(header) + 1) % 64
    header += b" " * pad + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\0" * 64)


@pytest.mark.parametrize("kind", ["npz", "huge_header", "empty_dir", "truncated", "pickle", "fifo", "float64"])
def test_cache_files_of_the_wrong_kind_are_rebuilt_with_one_warning(cached, faces, weights, caplog, kind):
    import os

    cache, first = cached
    path, rec = _files(cache)["test"]
    path.unlink()
    if kind == "npz":
        with open(path, "wb") as f:
            np.savez(f, a=np.zeros((3, WIDTH), np.float32))
    elif kind == "huge_header":
        _huge_npy_header(path)
    elif kind == "empty_dir":
        path.mkdir()
    elif kind == "truncated":
        np.save(path, first["test"].numpy())
        path.write_bytes(path.read_bytes()[:-100])
    elif kind == "pickle":
        np.save(path, np.array([{"a": 1}] * 3, dtype=object), allow_pickle=True)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "float64":
        _rewrite(path, first["test"].numpy().astype(np.float64), rec)
    with caplog.at_level(logging.WARNING):
        again, finfo = _features(faces, weights, cache, caplog)
    assert torch.equal(again["test"], first["test"]) and torch.equal(again["train"], first["train"])
    (warning,) = _warnings(caplog)
    assert "damaged feature cache, rebuilding it" in warning and str(path) in warning
    assert path.is_file() and np.load(path).shape == (3, WIDTH)  # rebuilt in place: the next run hits it
    assert _features(faces, weights, cache)[1]["cache_hits"] == ["train", "val", "test"]


def test_a_folder_with_files_at_the_cache_path_leaves_the_features_uncached(cached, faces, weights, caplog):
    cache, first = cached
    path, _ = _files(cache)["val"]
    path.unlink()
    path.mkdir()
    (path / "keep.txt").write_text("a user's file")
    with caplog.at_level(logging.WARNING):
        again, _ = _features(faces, weights, cache, caplog)
    assert torch.equal(again["val"], first["val"]) and (path / "keep.txt").is_file()  # nothing of the user's removed
    assert len(_warnings(caplog)) == 2 and "not written" in _warnings(caplog)[1]


def test_a_cache_dir_that_is_a_file_is_one_line(tmp_path, faces, weights, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    for where in (blocker, blocker / "sub"):
        with pytest.raises(OutputError, match="is not a folder"):
            _features(faces, weights, where)
    out = tmp_path / "runs"
    argv = ["part2", "features", "--weights", "random", "--input-size", "67", "--actors", "s1,s2"]
    argv += ["--train-per-actor", "6", "--epochs", "1", "--cache-dir", str(blocker), "--out", str(out)]
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        rc == 2
        and err[-1] == f"cnnlab: error: the feature cache folder {blocker} is not a folder (a file is in the way)"
    )
    assert not [line for line in err if "Traceback" in line]
