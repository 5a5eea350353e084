"""Tests for cnnlab.art.data and cnnlab.art.data.folder: folder loading, robustness to odd files, the cache, the split, synthetic data."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnlab.art.data import DATASETS, ImageDataset, load_art_data, stratified_split, synthetic
from cnnlab.art.data import folder as folder_mod
from cnnlab.art.data.folder import cache_path, default_cache_dir
from cnnlab.core.errors import ConfigError, DataError
from cnnlab.core.images import display_name


# ----------------------------------------------------------------------------- fixtures
def _noise_jpeg(path: Path, size=(64, 48), seed=0) -> None:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path, "JPEG", quality=90)


def make_art_folder(root: Path) -> Path:
    """A small folder with the original layout's oddities and the faults real folders have."""
    root.mkdir(parents=True, exist_ok=True)
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(64))
    # Class 0: a wide pure-red PNG (aspect ratio 2:1) and a JPEG.
    can = root / "canaletto"
    can.mkdir()
    Image.new("RGB", (100, 50), (255, 0, 0)).save(can / "a_wide_red.png")
    _noise_jpeg(can / "b_view.jpg", seed=1)
    # Class 1: plain JPEGs in a lowercase folder with a space.
    mon = root / "claude monet"
    mon.mkdir()
    for i in range(3):
        _noise_jpeg(mon / f"water lilies {i}.jpg", seed=10 + i)
    # Class 2: trailing space in the name, and every kind of awkward file.
    san = root / "paul sandby "
    san.mkdir()
    (san / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(32))
    Image.new("CMYK", (40, 30), (0, 255, 255, 0)).save(san / "cmyk.jpg", "JPEG")  # red in CMYK
    Image.new("L", (30, 30), 200).save(san / "gray.png")
    rgba = Image.new("RGBA", (30, 30), (0, 0, 255, 255))
    rgba.paste((0, 0, 0, 0), (0, 0, 30, 15))  # top half fully transparent
    rgba.save(san / "rgba.png")
    _noise_jpeg(san / "full.jpg", size=(80, 60), seed=3)
    (san / "truncated.jpg").write_bytes((san / "full.jpg").read_bytes()[:700])
    (san / "corrupt.jpg").write_bytes(b"this is not an image\n" * 20)
    (san / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 30)
    return root


@pytest.fixture()
def art_folder(tmp_path: Path) -> Path:
    return make_art_folder(tmp_path / "artists")


@pytest.fixture()
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def synthetic_ds(tmp_path_factory) -> ImageDataset:
    return load_art_data("synthetic-artists", cache_dir=tmp_path_factory.mktemp("syncache"))


# ----------------------------------------------------------------------------- folders
def test_layout_robustness(art_folder: Path, cache_dir: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="cnnlab.art.data.folder"):
        ds = load_art_data(str(art_folder), cache_dir=cache_dir)
    assert ds.class_names == ("Canaletto", "Claude Monet", "Paul Sandby")
    assert not ds.synthetic and ds.name == str(art_folder.resolve())
    # 2 + 3 + 4 readable (cmyk, gray, rgba, full); truncated, corrupt, broken.png and 2 .DS_Store skipped.
    assert ds.images.shape == (9, 3, 50, 50) and ds.images.dtype == torch.float32
    assert ds.labels.tolist() == [0, 0, 1, 1, 1, 2, 2, 2, 2]
    assert ds.class_counts() == {"Canaletto": 2, "Claude Monet": 3, "Paul Sandby": 4}
    assert float(ds.images.min()) >= -0.5 and float(ds.images.max()) <= 0.5
    skipped = {Path(p).name: reason for p, reason in ds.skipped}
    assert set(skipped) == {".DS_Store", "truncated.jpg", "corrupt.jpg", "broken.png"}
    assert len(ds.skipped) == 5  # two .DS_Store files
    assert "truncated" in skipped["truncated.jpg"]
    assert skipped["corrupt.jpg"].startswith("cannot decode")
    assert all(Path(p).is_absolute() and Path(p).exists() for p, _ in ds.skipped)
    # Every unreadable image is named in a warning: nothing is skipped silently.
    warned = caplog.text
    for name in ("truncated.jpg", "corrupt.jpg", "broken.png"):
        assert name in warned
    assert len(ds.data_hash) == 64


def test_aspect_ratio_is_kept_and_padded_with_grey(art_folder: Path, cache_dir: Path) -> None:
    ds = load_art_data(art_folder, cache_dir=cache_dir)
    red = ds.images[0]  # canaletto/a_wide_red.png, 100x50 -> 50x25 centred: rows 12..36
    assert torch.all(red[:, :12] == 0.0) and torch.all(red[:, 37:] == 0.0)  # mid-grey padding
    band = red[:, 12:37]
    assert torch.allclose(band[0], torch.full_like(band[0], 0.5), atol=0.02)
    assert torch.allclose(band[1:], torch.full_like(band[1:], -0.5), atol=0.02)


def test_odd_modes_are_converted(art_folder: Path, cache_dir: Path) -> None:
    ds = load_art_data(art_folder, cache_dir=cache_dir)
    cmyk, full, gray, rgba = ds.images[5:9]  # sorted: cmyk.jpg, full.jpg, gray.png, rgba.png
    assert torch.all(cmyk[:, :6] == 0.0)  # 40x30 -> 50x38, rows 6..43
    content = cmyk[:, 8:42]
    assert content[0].mean() > 0.4 and content[1:].mean() < -0.3  # CMYK red is red in RGB
    assert torch.allclose(gray[0], gray[1]) and torch.allclose(gray[1], gray[2])
    assert abs(float(gray.mean()) - (200 / 255 - 0.5)) < 0.01
    assert rgba[:, :20].abs().max() < 0.01  # transparent top half -> mid-grey
    assert rgba[2, 30:].mean() > 0.45 and rgba[:2, 30:].mean() < -0.45  # opaque blue bottom half


def test_image_size(art_folder: Path, cache_dir: Path) -> None:
    ds = load_art_data(art_folder, image_size=32, cache_dir=cache_dir)
    assert ds.images.shape == (9, 3, 32, 32)
    with pytest.raises(ConfigError):
        load_art_data(art_folder, image_size=2, cache_dir=cache_dir)


def test_second_load_uses_the_cache(art_folder: Path, cache_dir: Path, monkeypatch) -> None:
    first = load_art_data(art_folder, cache_dir=cache_dir)
    cached = cache_path(first.data_hash, 50, cache_dir)
    assert cached.is_file()
    mtime = cached.stat().st_mtime_ns

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded although the cache is valid")

    monkeypatch.setattr(folder_mod, "_decode_image", no_decoding)
    second = load_art_data(art_folder, cache_dir=cache_dir)
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)
    assert second.data_hash == first.data_hash and second.skipped == first.skipped
    assert cached.stat().st_mtime_ns == mtime  # read, not rewritten


def test_content_change_invalidates_the_cache(art_folder: Path, cache_dir: Path, monkeypatch) -> None:
    first = load_art_data(art_folder, cache_dir=cache_dir)
    calls = []
    real = folder_mod._decode_image
    monkeypatch.setattr(folder_mod, "_decode_image", lambda *a: calls.append(a) or real(*a))
    Image.new("RGB", (100, 50), (0, 255, 0)).save(art_folder / "canaletto" / "a_wide_red.png")  # same size
    second = load_art_data(art_folder, cache_dir=cache_dir)
    assert second.data_hash != first.data_hash and calls
    assert second.images[0, 1, 25, 25] > 0.45  # now green
    # A renamed file changes the hash too (paths are part of it).
    (art_folder / "claude monet" / "water lilies 0.jpg").rename(art_folder / "claude monet" / "z.jpg")
    assert load_art_data(art_folder, cache_dir=cache_dir).data_hash != second.data_hash


def test_damaged_cache_file_is_rebuilt(art_folder: Path, cache_dir: Path, caplog) -> None:
    first = load_art_data(art_folder, cache_dir=cache_dir)
    cache_path(first.data_hash, 50, cache_dir).write_bytes(b"not a torch file")
    with caplog.at_level(logging.WARNING, logger="cnnlab.art.data.folder"):
        again = load_art_data(art_folder, cache_dir=cache_dir)
    assert torch.equal(first.images, again.images)
    assert "unreadable cache file" in caplog.text


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data folder not found") as exc:
        load_art_data(str(tmp_path / "nope"), cache_dir=tmp_path)
    assert "\n" not in str(exc.value) and "synthetic-artists" in str(exc.value)


def test_data_path_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(DataError, match="not a folder"):
        load_art_data(tmp_path / "f.txt", cache_dir=tmp_path)


def test_empty_class_folder(art_folder: Path, cache_dir: Path) -> None:
    (art_folder / "rembrandt").mkdir()
    with pytest.raises(DataError, match="'rembrandt' .* no readable images"):
        load_art_data(art_folder, cache_dir=cache_dir)


def test_class_folder_with_only_unreadable_files(art_folder: Path, cache_dir: Path) -> None:
    bad = art_folder / "rembrandt"
    bad.mkdir()
    (bad / "x.jpg").write_bytes(b"garbage")
    (bad / ".DS_Store").write_bytes(b"junk")
    with pytest.raises(DataError, match="no readable images") as exc:
        load_art_data(art_folder, cache_dir=cache_dir)
    assert "\n" not in str(exc.value)
    assert not list((cache_dir / "art").glob("*.pt")) if (cache_dir / "art").exists() else True


def test_fewer_than_two_classes(tmp_path: Path) -> None:
    root = tmp_path / "one"
    (root / "canaletto").mkdir(parents=True)
    _noise_jpeg(root / "canaletto" / "a.jpg")
    with pytest.raises(DataError, match="at least two class folders"):
        load_art_data(root, cache_dir=tmp_path / "c")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "loose.jpg").write_bytes(b"x")
    with pytest.raises(DataError, match="no class folders"):
        load_art_data(empty, cache_dir=tmp_path / "c")


def test_duplicate_display_names(art_folder: Path, cache_dir: Path) -> None:
    (art_folder / "paul sandby").mkdir()  # besides "paul sandby "
    _noise_jpeg(art_folder / "paul sandby" / "a.jpg")
    with pytest.raises(DataError, match="same name 'Paul Sandby'"):
        load_art_data(art_folder, cache_dir=cache_dir)


@pytest.mark.parametrize(
    "folder, name",
    [
        ("j. m. w. turner", "J. M. W. Turner"),
        ("paul sandby ", "Paul Sandby"),
        ("Claude Monet", "Claude Monet"),
        ("richard_wilson", "Richard Wilson"),
        ("rembrandt", "Rembrandt"),
    ],
)
def test_display_name(folder: str, name: str) -> None:
    assert display_name(folder) == name


def test_default_cache_dir(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x"
    monkeypatch.delenv("CNNLAB_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "cnnlab"


# ----------------------------------------------------------------------------- split
HANDOUT_COUNTS = [20, 54, 63, 70, 40, 40, 37, 36, 28, 40, 23]


def test_split_is_stratified_disjoint_and_complete() -> None:
    labels = torch.repeat_interleave(torch.arange(11), torch.tensor(HANDOUT_COUNTS))
    s = stratified_split(labels, seed=0)
    all_idx = torch.cat([s.train, s.val, s.test])
    assert sorted(all_idx.tolist()) == list(range(len(labels)))  # disjoint and covering
    assert (
        s.train.dtype == torch.int64
        and len(s.test) == 67
        and len(s.val) in (76, 77)
        and len(s.train) == 451 - 67 - len(s.val)
    )
    for c, n in enumerate(HANDOUT_COUNTS):
        n_val = int((labels[s.val] == c).sum())
        n_test = int((labels[s.test] == c).sum())
        assert abs(n_test - 0.15 * n) <= 1 and n_test >= 1
        assert abs(n_val - (n - n_test) / 5) <= 1 and n_val >= 1  # one fold of five, per class


def test_folds_partition_the_non_test_images_and_never_touch_the_test_split() -> None:
    labels = torch.repeat_interleave(torch.arange(11), torch.tensor(HANDOUT_COUNTS))
    splits = [stratified_split(labels, folds=5, fold=f, seed=0) for f in range(5)]
    test = splits[0].test
    assert all(torch.equal(s.test, test) for s in splits)  # the test split does not depend on the fold
    vals = torch.cat([s.val for s in splits])
    assert sorted(vals.tolist()) == sorted(
        set(range(len(labels))) - set(test.tolist())
    )  # every non-test image validated once
    for s in splits:
        assert not set(s.val.tolist()) & set(test.tolist()) and not set(s.train.tolist()) & set(test.tolist())
        assert sorted(torch.cat([s.train, s.val]).tolist()) == sorted(set(range(len(labels))) - set(test.tolist()))
    sizes = [len(s.val) for s in splits]
    assert max(sizes) - min(sizes) <= 1  # folds dealt across classes: balanced sizes
    # a different fold count changes the validation folds, not the test split
    assert torch.equal(stratified_split(labels, folds=3, fold=1, seed=0).test, test)


def test_split_deterministic_per_seed() -> None:
    labels = torch.arange(60) % 4
    a, b, c = (stratified_split(labels, seed=s) for s in (3, 3, 4))
    assert all(torch.equal(getattr(a, k), getattr(b, k)) for k in ("train", "val", "test"))
    assert not torch.equal(a.val, c.val) and not torch.equal(a.test, c.test)


def test_split_small_classes() -> None:
    labels = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2])
    s = stratified_split(labels, folds=2, fold=0, seed=1)
    # 6 images: round(0.9) = 1 test; 3 images: at least one test, two left (one per fold); 2 images: round(0.3) = 0 test.
    assert sorted(labels[s.test].tolist()) == [0, 1]
    val_counts = torch.bincount(labels[s.val], minlength=3).tolist()
    assert val_counts[0] in (2, 3) and val_counts[1:] == [1, 1]  # each class's rest dealt over the two folds
    assert {0, 1, 2} <= set(labels[s.train].tolist())  # every class keeps a training image in this fold
    big = stratified_split(labels, test_fraction=0.9, folds=2)  # capped: two images stay (one for a class of two)
    assert sorted(labels[big.test].tolist()) == [0, 0, 0, 0, 1, 2] and len(big.train) + len(big.val) == 5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"test_fraction": -0.1},
        {"test_fraction": 1.0},
        {"folds": 1},
        {"folds": 5, "fold": 5},
        {"fold": -1},
        {"folds": 2.5},
    ],
)
def test_split_rejects_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        stratified_split(torch.arange(40) % 2, **kwargs)


def test_too_few_images_for_the_folds_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="use fewer folds"):
        stratified_split(torch.tensor([0, 0, 1, 1]), test_fraction=0.1, folds=5, fold=4)


def test_data_config_validates_folds() -> None:
    from cnnlab.art.config import DataConfig, RunConfig
    from cnnlab.core.config import resolve_config

    assert (DataConfig().folds, DataConfig().fold) == (5, 0)
    assert resolve_config(RunConfig, None, ["data.fold=4"]).data.fold == 4
    for bad in (["data.fold=5"], ["data.folds=1"], ["data.fold=-1"], ["data.folds=3", "data.fold=3"]):
        with pytest.raises(ConfigError, match="data.fold"):
            resolve_config(RunConfig, None, bad)


# ----------------------------------------------------------------------------- synthetic
def test_synthetic_is_registered() -> None:
    assert "synthetic-artists" in DATASETS.names()


def test_synthetic_counts(synthetic_ds: ImageDataset) -> None:
    ds = synthetic_ds
    assert ds.synthetic and ds.name == "synthetic-artists" and "SYNTHETIC" in ds.summary()
    assert ds.images.shape == (451, 3, 50, 50) and ds.labels.dtype == torch.int64
    assert ds.class_counts() == {
        "Canaletto": 20,
        "Claude Monet": 54,
        "George Romney": 63,
        "J. M. W. Turner": 70,
        "John Robert Cozens": 40,
        "Paul Cezanne": 40,
        "Paul Gauguin": 37,
        "Paul Sandby": 36,
        "Peter Paul Rubens": 28,
        "Rembrandt": 40,
        "Richard Wilson": 23,
    }
    assert float(ds.images.min()) >= -0.5 and float(ds.images.max()) <= 0.5
    assert ds.skipped == ()


def test_synthetic_deterministic(synthetic_ds: ImageDataset, tmp_path: Path) -> None:
    fresh = load_art_data("synthetic-artists", cache_dir=tmp_path)  # rendered again, not cached
    assert cache_path(fresh.data_hash, 50, tmp_path).is_file()
    assert fresh.data_hash == synthetic_ds.data_hash
    assert torch.equal(fresh.images, synthetic_ds.images) and torch.equal(fresh.labels, synthetic_ds.labels)
    assert synthetic.generator_params(seed=1) != synthetic.generator_params()


def test_synthetic_classes_are_distinct(synthetic_ds: ImageDataset) -> None:
    x, y = synthetic_ds.images, synthetic_ds.labels
    # Nearest class centroid on colour statistics alone beats chance (1/11) by far, but is not perfect.
    feats = torch.cat([x.mean((2, 3)), x.std((2, 3))], 1)  # (N, 6)
    cent = torch.stack([feats[y == c].mean(0) for c in range(11)])
    acc = float((torch.cdist(feats, cent).argmin(1) == y).float().mean())
    assert 0.3 < acc < 0.9
    # No two images are the same.
    flat = x.flatten(1)
    assert torch.cdist(flat[:60], flat[:60]).add(torch.eye(60) * 1e9).min() > 1.0


def test_synthetic_other_size(tmp_path: Path) -> None:
    ds = load_art_data("synthetic-artists", image_size=24, cache_dir=tmp_path)
    assert ds.images.shape == (451, 3, 24, 24)
