"""FaceScrub list parsing, splits, load_faces (Olivetti and download folders) and the Olivetti conversion."""

from __future__ import annotations

import codecs
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnlab.core.errors import ConfigError, DataError
from cnnlab.faces import (
    COURSE_ACTORS,
    DownloadConfig,
    FaceSplitConfig,
    describe_faces,
    download_faces,
    load_faces,
    parse_list,
    parse_lists,
    safe_name,
    split_sizes,
)
from cnnlab.faces.data.olivetti import convert_olivetti, embedded_path, load_olivetti
from cnnlab.faces.facescrub.plan import plan_lists
from faces_helpers import FaceServer, Route, list_line, make_image, sha, write_list

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
LISTS = SHARED / "facescrub" / "lists"
MAT = SHARED / "olivetti" / "olivettifaces.mat"
DIGEST = "a" * 64


# ----------------------------------------------------------------------------- lists
def test_parse_list_formats(tmp_path):
    body = [
        list_line("Alec  Baldwin", 1, "http://h/1.jpg", "1,2,3,4", DIGEST),
        "",
        list_line("Alec_Baldwin", 2, "http://h/2.jpg", " 5, 6, 7, 8 ", DIGEST.upper()),
    ]
    plain = write_list(tmp_path / "plain.txt", body)
    rows = parse_list(plain).rows
    assert [(r.name, r.face_id, r.bbox, r.sha256, r.problem) for r in rows] == [
        ("Alec Baldwin", "1", (1, 2, 3, 4), DIGEST, None),
        ("Alec Baldwin", "2", (5, 6, 7, 8), DIGEST, None),
    ]
    assert rows[1].source == "plain.txt:3" and rows[0].key == "Alec_Baldwin/1"
    # a header (columns in any order), a BOM and CRLF line ends
    header = "\t".join(["url", "name", "image_id", "face_id", "bbox", "sha256"])
    data = "\t".join(["http://h/9.jpg", "Bill Hader", "7", "9", "0,0,5,5", DIGEST])
    (tmp_path / "h.txt").write_bytes(("\ufeff" + header + "\r\n" + data + "\r\n").encode("utf-8"))
    (row,) = parse_list(tmp_path / "h.txt").rows
    assert (row.name, row.url, row.face_id, row.image_id, row.bbox) == (
        "Bill Hader",
        "http://h/9.jpg",
        "9",
        "7",
        (0, 0, 5, 5),
    )
    (tmp_path / "bad_header.txt").write_text("name\turl\tface_id\n")
    with pytest.raises(DataError, match="lacks column"):
        parse_list(tmp_path / "bad_header.txt")


def test_parse_lists_subsets_duplicates_and_bad_lines(tmp_path, caplog):
    a = write_list(
        tmp_path / "a.txt",
        [
            list_line("Alec Baldwin", 1, "http://h/1.jpg", "1,2,3,4", DIGEST),
            list_line("Bill Hader", 2, "http://h/2.jpg", "1,2,3,4", DIGEST),
            "Bill Hader\t3\t3\thttp://h/3",
        ],
    )
    b = write_list(
        tmp_path / "b.txt",
        [
            list_line("Alec Baldwin", 1, "http://h/1.jpg", "1,2,3,4", DIGEST),
            list_line("Alec Baldwin", 1, "http://h/other.jpg", "1,2,3,4", DIGEST),
        ],
    )
    with caplog.at_level(logging.WARNING):
        rows = parse_lists([a, b])
    assert [(r.source, r.problem) for r in rows] == [
        ("a.txt:1", None),
        ("a.txt:2", None),
        ("a.txt:3", "bad_line"),
        ("b.txt:2", "duplicate"),
    ]
    assert "a.txt:3" in caplog.text and "truncated" in caplog.text
    assert [r.face_id for r in parse_lists([a], actors=["bill_HADER"])] == ["2", "3"]
    assert [r.face_id for r in parse_lists([a], actors="Bill Hader")] == ["2", "3"]
    # spellings differing in case share one actor; rows with problems claim no face id
    c = write_list(
        tmp_path / "c.txt",
        [
            list_line("alec baldwin", 5, "http://h/5.jpg", "1,2,3,4", DIGEST),
            list_line("Alec Baldwin", 6, "http://h/6.jpg", "1,2,3", DIGEST),
            list_line("Alec Baldwin", 6, "http://h/6.jpg", "1,2,3,4", DIGEST),
        ],
    )
    rows = parse_lists([c])
    assert [(r.name, r.problem) for r in rows] == [
        ("Alec Baldwin", None),
        ("Alec Baldwin", "bad_bbox"),
        ("Alec Baldwin", None),
    ]
    with pytest.raises(DataError, match="Nobody"):
        parse_lists([a], actors=["Nobody", "Alec Baldwin"])


def test_utf16_lists_decode_like_utf8(tmp_path):
    lines = [
        list_line("Zoë Saldaña", 1, "http://h/1.jpg", "1,2,3,4", DIGEST),
        list_line("Alec Baldwin", 2, "http://h/é.jpg", "5,6,7,8", DIGEST),
    ]
    text = "\r\n".join(lines) + "\r\n"
    want = [
        (r.source.split(":")[1], r.name, r.face_id, r.url, r.bbox, r.problem)
        for r in parse_list(write_list(tmp_path / "utf8.txt", lines)).rows
    ]
    assert [w[1] for w in want] == ["Zoë Saldaña", "Alec Baldwin"]
    for enc, bom in (
        ("utf-8", codecs.BOM_UTF8),
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
    ):
        path = tmp_path / f"{enc}.txt"
        path.write_bytes(bom + text.encode(enc))
        got = [(r.source.split(":")[1], r.name, r.face_id, r.url, r.bbox, r.problem) for r in parse_list(path).rows]
        assert got == want, enc
    # without a byte-order mark only UTF-8 is accepted, with one clear line saying so
    for name, data in (
        ("latin1.txt", text.encode("latin-1")),
        ("utf16_nobom.txt", text.encode("utf-16-le")),
        ("utf32.txt", text.encode("utf-32")),
    ):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(DataError, match="UTF-8") as err:
            parse_list(tmp_path / name)
        assert name in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("odd", ["\u2028", "\u2029", "\u0085", "\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "\r"])
def test_only_newline_ends_a_line(tmp_path, odd):
    lines = [
        list_line(f"Alec{odd}Baldwin", 1, "http://h/1.jpg", "1,2,3,4", DIGEST, image_id=f"7{odd}8"),
        list_line("Bill Hader", 2, f"http://h/{odd}2.jpg", "1,2,3,4", DIGEST),
        list_line("Bill Hader", 3, "http://h/3.jpg", "1,2,3,4", DIGEST),
    ]
    rows = parse_list(write_list(tmp_path / "l.txt", lines)).rows
    assert [r.source for r in rows] == ["l.txt:1", "l.txt:2", "l.txt:3"]
    assert rows[0].name == "Alec Baldwin" and rows[0].image_id == f"7{odd}8" and rows[0].problem is None
    assert rows[1].problem == "bad_url" and rows[2].problem is None
    assert [r.face_id for r in parse_lists([tmp_path / "l.txt"])] == ["1", "2", "3"]


def test_list_size_is_capped(tmp_path):
    big = tmp_path / "huge.txt"
    with open(big, "wb") as f:
        f.truncate((1 << 30) + 1)  # sparse: nothing is written, nothing may be read
    with pytest.raises(DataError, match="huge.txt.*limit") as err:
        parse_list(big)
    assert "\n" not in str(err.value)
    with pytest.raises(DataError, match="directory"):
        parse_list(tmp_path)


def test_plan_of_a_long_list_is_compact(tmp_path):
    """20,000 rows planned in a few bytes each; work comes out in list order, one unit per URL."""
    n = 20_000
    lines = [list_line(f"Actor {i % 50}", i, f"http://h/{i // 2}.jpg", "1,2,3,4", DIGEST) for i in range(n)]
    lines[7] = list_line("Actor 7", 7, "http://h/3.jpg", "1,2", DIGEST)  # bad_bbox: a unit of its own
    lst = write_list(tmp_path / "long.txt", lines)
    # Measured in a fresh interpreter: the state earlier tests leave in this process (seen after the
    # TensorBoard tests) can triple the transient peak without the plan itself changing.
    code = (
        "import sys, tracemalloc; from cnnlab.faces.facescrub.plan import plan_lists; tracemalloc.start(); "
        f"plan = plan_lists([{str(lst)!r}]); kept, peak = tracemalloc.get_traced_memory(); "
        "print(kept, peak, plan.n_rows, plan.n_faces, plan.n_urls)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    kept, peak, n_rows, n_faces, n_urls = map(int, proc.stdout.split())
    assert kept < 40 * n and peak < 250 * n, (kept / n, peak / n)  # bytes per row; a FaceRow is ~1.5 KB
    assert (n_rows, n_faces, n_urls) == (n, n - 1, n // 2)
    with plan_lists([lst]) as plan:  # and in this process: the same plan
        units = [[idx for idx, _row in unit] for unit in plan.work()]
    assert units[:5] == [[0, 1], [2, 3], [4, 5], [6], [7]] and len(units) == n // 2 + 1
    assert sorted(i for unit in units for i in unit) == list(range(n))


def test_safe_name_never_escapes():
    nasty = [
        "..",
        ".",
        "../../etc/passwd",
        "/abs",
        "a/b",
        "C:\\x",
        "",
        " ",
        "\x00",
        "é\u202e",
        "-rf",
        "x" * 500,
        "name with spaces",
        "..hidden",
        "a:b*c?d",
    ]
    names = [safe_name(s) for s in nasty]
    for n in names:
        assert n and not n.startswith((".", "-")) and len(n) <= 90
        assert all(c.isalnum() or c in "._-" for c in n) and n.isascii()
    assert len(set(names)) == len(names)  # distinct inputs stay distinct
    assert safe_name("Alec_Baldwin") == "Alec_Baldwin" and safe_name("1863") == "1863"


@pytest.mark.skipif(not LISTS.is_dir(), reason="../shared is absent")
def test_parse_the_real_facescrub_lists():
    parsed = {p.name: parse_list(p) for p in sorted(LISTS.glob("*.txt"))}
    assert set(parsed) == {
        "facescrub_actors.txt",
        "facescrub_actresses.txt",
        "subset_actors.txt",
        "subset_actresses.txt",
    }
    sizes = {name: (len(p.rows), len(p.bad_lines), len({r.name for r in p.rows})) for name, p in parsed.items()}
    assert sizes == {
        "facescrub_actors.txt": (1549, 0, 6),
        "facescrub_actresses.txt": (1556, 1, 6),
        "subset_actors.txt": (2859, 0, 20),
        "subset_actresses.txt": (2925, 0, 20),
    }
    # the actresses file is cut short mid-line: that line is reported, not fatal
    assert parsed["facescrub_actresses.txt"].bad_lines[0].source == "facescrub_actresses.txt:1556"
    course = parse_lists([LISTS / "facescrub_actors.txt", LISTS / "facescrub_actresses.txt"], actors=COURSE_ACTORS)
    assert {r.name for r in course} == set(COURSE_ACTORS)
    good = [r for p in parsed.values() for r in p.rows if r.problem is None]
    assert len(good) == 1549 + 1555 + 2859 + 2925
    assert all(r.bbox and r.bbox[2] > r.bbox[0] and r.url.startswith("http") for r in good)


# ----------------------------------------------------------------------------- splits
@pytest.mark.parametrize(
    "n, expected",
    [
        (200, (70, 65, 65)),  # the handout: 70 for training, the rest halved
        (137, (70, 33, 34)),  # an odd rest: test gets the extra face
        (75, (70, 2, 3)),
        (74, (70, 2, 2)),
        (73, (69, 2, 2)),  # fewer than 70 + 2 + 2: training gives way, validation and test keep 2 each
        (10, (6, 2, 2)),  # Olivetti
        (5, (1, 2, 2)),
        (4, None),  # too few: left out
        (0, None),
    ],
)
def test_split_sizes_rule(n, expected):
    assert split_sizes(n, FaceSplitConfig()) == expected


def test_split_sizes_every_n_and_config():
    for n in range(0, 300):
        for cfg in (FaceSplitConfig(), FaceSplitConfig(3, 1), FaceSplitConfig(1, 5), FaceSplitConfig(70, 10)):
            sizes = split_sizes(n, cfg)
            if n < 2 * cfg.min_eval_per_actor + 1:
                assert sizes is None
                continue
            train, val, test = sizes
            assert train + val + test == n  # every usable face is used
            assert 1 <= train <= cfg.train_per_actor and min(val, test) >= cfg.min_eval_per_actor
            assert 0 <= test - val <= 1  # divided evenly
            assert train == cfg.train_per_actor or (val, test) == (cfg.min_eval_per_actor,) * 2
    assert "70 training faces per person" in FaceSplitConfig().describe()
    for bad in (
        {"train_per_actor": 0},
        {"min_eval_per_actor": 0},
        {"seed": -1},
        {"min_eval_per_actor": True},
        {"train_per_actor": 2.5},
    ):
        with pytest.raises(ConfigError):
            FaceSplitConfig(**bad)


# ----------------------------------------------------------------------------- Olivetti
def test_load_olivetti_default():
    data = load_faces()
    assert data.source == "olivetti" and len(data.class_names) == 40 and data.class_names[0] == "s1"
    assert data.train_x.shape == (240, 1, 28, 28) and data.val_x.shape == (80, 1, 28, 28)
    assert data.test_x.shape == (80, 1, 28, 28) and data.train_x.dtype == torch.float32
    assert data.train_y.dtype == torch.int64 and set(data.counts.values()) == {(6, 2, 2)}
    assert 0.0 <= float(data.train_x.min()) and float(data.train_x.max()) <= 1.0
    assert "6/2/2" in data.provenance and "AT&T" in data.provenance
    assert torch.bincount(data.test_y).tolist() == [2] * 40
    # splits are disjoint: no image appears twice
    flat = torch.cat([data.train_x, data.val_x, data.test_x]).flatten(1)
    assert torch.unique(flat, dim=0).shape[0] == 400
    again = load_faces()
    assert again.data_hash == data.data_hash and torch.equal(again.val_x, data.val_x)
    other = load_faces(split=FaceSplitConfig(seed=1))
    assert other.data_hash != data.data_hash and not torch.equal(other.val_x, data.val_x)


def test_load_olivetti_sizes_channels_actors():
    images, labels = load_olivetti()
    data = load_faces("olivetti", image_size=64, channels=3, actors=["S2", "s1"], split=FaceSplitConfig(5, 2))
    assert data.class_names == ("s2", "s1") and data.counts == {"s2": (5, 2, 3), "s1": (5, 2, 3)}
    assert data.train_x.shape == (10, 3, 64, 64)
    assert torch.equal(data.train_x[:, 0], data.train_x[:, 2])  # gray replicated to 3 channels
    first = (data.train_x[0, 0] * 255).round().to(torch.uint8).numpy()
    assert any(np.array_equal(first, images[i]) for i in np.flatnonzero(labels == 1))  # s2 = label 1
    big = load_faces(image_size=227, actors=["s3"])
    assert big.train_x.shape == (6, 1, 227, 227) and "upsampled" in big.provenance
    with pytest.raises(DataError, match="s99"):
        load_faces(actors=["s99"])
    with pytest.raises(ConfigError):
        load_faces(channels=2)
    with pytest.raises(ConfigError):
        load_faces(image_size=0)


def test_embedded_olivetti_file():
    images, labels = load_olivetti()
    assert images.shape == (400, 64, 64) and images.dtype == np.uint8
    assert np.array_equal(labels, np.repeat(np.arange(40), 10))
    assert embedded_path().stat().st_size < 1_600_000


def test_convert_olivetti_layout(tmp_path):
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    faces = rng.integers(0, 243, (4096, 400), dtype=np.uint8)
    savemat(tmp_path / "f.mat", {"faces": faces})
    out = convert_olivetti(tmp_path / "f.mat", tmp_path / "o.npz")
    with np.load(out) as npz:
        images = npz["images"]
    r, c, j = 5, 17, 123
    assert images[j, r, c] == faces[r + 64 * c, j]  # column-major 64x64 images
    savemat(tmp_path / "bad.mat", {"faces": faces[:, :10]})
    with pytest.raises(DataError, match="4096, 400"):
        convert_olivetti(tmp_path / "bad.mat", tmp_path / "x.npz")
    with pytest.raises(DataError, match="not found"):
        convert_olivetti(tmp_path / "missing.mat", tmp_path / "x.npz")


@pytest.mark.skipif(not MAT.is_file(), reason="../shared is absent")
def test_embedded_file_matches_the_shared_mat(tmp_path):
    with np.load(convert_olivetti(MAT, tmp_path / "o.npz")) as npz:
        assert np.array_equal(npz["images"], load_olivetti()[0])


# ----------------------------------------------------------------------------- download folders
@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A small download: Alec Baldwin 14 faces, Bill Hader 9 (+1 404), Peri Gilpin 2."""
    srv = FaceServer().start()
    tmp = tmp_path_factory.mktemp("faces")
    lines = []
    for k, (name, n) in enumerate((("Alec Baldwin", 14), ("Bill Hader", 9), ("Peri Gilpin", 2))):
        for i in range(n):
            data = make_image(1000 * k + i, size=(48, 40))
            url = srv.add(f"/{name[:4]}/{i}.jpg", Route("bytes", data))
            lines.append(list_line(name, f"{len(lines) + 100}", url, "4,2,36,34", sha(data)))
    lines.append(list_line("Bill Hader", 999, srv.url("/missing.jpg"), "4,2,36,34", DIGEST))
    out = tmp / "out"
    download_faces([write_list(tmp / "l.txt", lines)], out, DownloadConfig(workers=4, timeout=2, retries=0))
    srv.stop()
    return out


def test_load_download_folder(folder, caplog):
    split = FaceSplitConfig(8, 2)
    with caplog.at_level(logging.WARNING):
        data = load_faces(str(folder), split=split)
    assert data.class_names == ("Alec Baldwin", "Bill Hader")
    assert data.counts == {"Alec Baldwin": (8, 3, 3), "Bill Hader": (5, 2, 2)}  # Peri Gilpin: 2 faces, left out
    assert "Bill Hader" in caplog.text and "Peri Gilpin" in caplog.text
    assert data.train_x.shape == (13, 1, 28, 28) and data.train_y.tolist() == [0] * 8 + [1] * 5
    assert (
        "FaceScrub: 2 actors" in data.provenance
        and folder.name in data.provenance
        and str(folder) not in data.provenance
    )
    # the tensors are the downloader's 28x28 copies
    gray = {np.asarray(Image.open(p)).tobytes() for p in (folder / "gray28" / "Alec_Baldwin").glob("*.png")}
    assert (data.train_x[0, 0] * 255).round().to(torch.uint8).numpy().tobytes() in gray
    again = load_faces(str(folder), split=split)
    assert again.data_hash == data.data_hash and torch.equal(again.test_x, data.test_x)


def test_load_download_folder_sizes_and_actors(folder):
    rgb = load_faces(str(folder), image_size=227, channels=3, actors=["bill_hader"], split=FaceSplitConfig(5, 2))
    assert rgb.class_names == ("Bill Hader",) and rgb.train_x.shape == (5, 3, 227, 227)
    odd = load_faces(str(folder), image_size=40, channels=3, actors=["Alec Baldwin"], split=FaceSplitConfig(8, 2))
    assert odd.train_x.shape == (8, 3, 40, 40)  # resized from the crops
    assert (
        odd.data_hash
        != load_faces(str(folder), image_size=28, actors=["Alec Baldwin"], split=FaceSplitConfig(8, 2)).data_hash
    )
    with pytest.raises(DataError, match="Nobody"):
        load_faces(str(folder), actors=["Nobody"])
    with pytest.raises(DataError, match="not found"):
        load_faces(str(folder / "nope"))
    people = {name: (rows, usable, sizes) for name, rows, usable, sizes in describe_faces(str(folder))}
    assert people["Bill Hader"] == (10, 9, (5, 2, 2)) and people["Peri Gilpin"] == (2, 2, None)
