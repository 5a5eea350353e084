"""A faces folder read as untrusted input (issue 30, items 2 and 10): its manifest's paths stay inside the
folder, images and the manifest are regular files under their caps, and a malformed manifest is one line
naming the file and line, exit status 2. FIFOs and /dev/zero run under a timeout that fails the test."""

from __future__ import annotations

import csv
import io
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnlab.cli.app import main
from cnnlab.core.errors import DataError
from cnnlab.faces.data.dataset import describe_faces, load_faces
from cnnlab.faces.data.splits import FaceSplitConfig
from cnnlab.faces.facescrub.lists import parse_list
from cnnlab.faces.facescrub.manifest import MANIFEST_COLUMNS, read_manifest
from faces_helpers import fails_after, png_bomb

SPLIT = FaceSplitConfig(2, 1)  # 4 faces per person: 2/1/1
PEOPLE = ("Alec Baldwin", "Bill Hader")


def _row(actor: str, face_id: int, gray: str, status: str = "ok") -> dict[str, str]:
    row = dict.fromkeys(MANIFEST_COLUMNS, "")
    row.update(actor=actor, face_id=str(face_id), status=status, sha256=f"{face_id:064x}", bbox="0,0,28,28")
    row.update(crop=gray, gray=gray, gray_size="28")
    return row


def _write_manifest(folder: Path, rows: list[dict[str, str]]) -> Path:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (folder / "manifest.csv").write_text(buf.getvalue(), encoding="utf-8")
    return folder / "manifest.csv"


@pytest.fixture
def folder(tmp_path) -> Path:
    """Two people x 4 faces as 28x28 gray PNGs, with a manifest like `faces download` writes."""
    out = tmp_path / "faces"
    rows = []
    for k, actor in enumerate(PEOPLE):
        (out / "gray28" / actor.replace(" ", "_")).mkdir(parents=True)
        for i in range(4):
            rel = f"gray28/{actor.replace(' ', '_')}/{i}.png"
            Image.fromarray(np.full((28, 28), 40 * k + 10 * i, np.uint8)).save(out / rel)
            rows.append(_row(actor, 10 * k + i, rel))
    _write_manifest(out, rows)
    return out


def _replace_gray(folder: Path, path: str) -> None:
    rows = read_manifest(folder)
    rows[0]["gray"] = rows[0]["crop"] = path
    _write_manifest(folder, rows)


def _one_line(capsys, argv: list[str]) -> str:
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("cnnlab: error: "), (rc, err)
    return err[0]


def test_the_fixture_folder_loads(folder):
    data = load_faces(str(folder), split=SPLIT)
    assert data.class_names == PEOPLE and data.train_x.shape == (4, 1, 28, 28)


# ------------------------------------------------------------------------------------------ item 2
@pytest.mark.parametrize("where", ["../outside.png", "../../outside.png", "ABSOLUTE", "gray28/../../outside.png"])
def test_paths_outside_the_folder_are_refused(folder, where, capsys):
    outside = folder.parent / "outside.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(outside)
    (folder.parent.parent / "outside.png").write_bytes(outside.read_bytes())
    _replace_gray(folder, str(outside) if where == "ABSOLUTE" else where)
    with pytest.raises(DataError, match="must be relative|leads outside"):
        load_faces(str(folder), split=SPLIT)
    line = _one_line(
        capsys,
        [
            "part2",
            "mlp",
            "--faces",
            str(folder),
            "--train-per-actor",
            "2",
            "--min-eval-per-actor",
            "1",
            "--epochs",
            "1",
            "--out",
            str(folder.parent / "runs"),
        ],
    )
    assert "manifest.csv" in line and ("leads outside" in line or "must be relative" in line)


def test_a_symlink_out_of_the_folder_is_refused(folder):
    first = folder / read_manifest(folder)[0]["gray"]
    first.unlink()
    first.symlink_to("/etc/passwd")
    with pytest.raises(DataError, match="leads outside"):
        load_faces(str(folder), split=SPLIT)


def test_a_fifo_image_does_not_hang(folder):
    first = folder / read_manifest(folder)[0]["gray"]
    first.unlink()
    os.mkfifo(first)
    with fails_after(20), pytest.raises(DataError, match="not a regular file"):
        load_faces(str(folder), split=SPLIT)


def test_a_fifo_manifest_does_not_hang(folder, capsys):
    (folder / "manifest.csv").unlink()
    os.mkfifo(folder / "manifest.csv")
    with fails_after(20):
        line = _one_line(capsys, ["faces", "info", str(folder)])
    assert "manifest.csv is not a regular file" in line


def _limited_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def test_a_manifest_linked_to_dev_zero_is_refused(folder):
    (folder / "manifest.csv").unlink()
    (folder / "manifest.csv").symlink_to("/dev/zero")
    # In a child with 4 GiB of address space and a deadline: reading /dev/zero whole cannot be interrupted.
    done = subprocess.run(
        [sys.executable, "-m", "cnnlab", "faces", "info", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_limited_memory,
    )
    err = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(err) == 1 and "manifest.csv is not a regular file" in err[0], err[-3:]


def test_a_pixel_bomb_is_one_line(folder, capsys):
    (folder / read_manifest(folder)[0]["gray"]).write_bytes(png_bomb(50_000, 50_000))
    with fails_after(20), pytest.raises(DataError, match="2,?500,?000,?000 pixels") as e:
        load_faces(str(folder), split=SPLIT)
    assert "0.png" in str(e.value) and "\n" not in str(e.value)


# ----------------------------------------------------------------------------------------- item 10
def _damage(folder: Path, how: str) -> int:
    """Damage the manifest; returns the line named in the error."""
    path = folder / "manifest.csv"
    lines = path.read_bytes().split(b"\n")
    if how == "utf8":
        lines[3] = lines[3].replace(b"Alec", b"Al\xffc")
    elif how == "cut_after_ok":  # the row ends right after its status
        lines[3] = lines[3][: lines[3].index(b",ok,") + 3]
    elif how == "cut_early":  # the row ends inside its actor's name
        lines[3] = lines[3][:8]
    elif how == "long_field":
        lines[3] = lines[3].replace(b"Alec Baldwin", b"A" * 200_000, 1)
    path.write_bytes(b"\n".join(lines))
    return 4


@pytest.mark.parametrize("how", ["utf8", "cut_after_ok", "cut_early", "long_field"])
def test_a_malformed_manifest_names_its_file_and_line(folder, capsys, how):
    line_no = _damage(folder, how)
    with pytest.raises(DataError) as e:
        read_manifest(folder)
    msg = str(e.value)
    assert "manifest.csv" in msg and (f"line {line_no}," in msg or f"csv:{line_no}:" in msg) and "\n" not in msg
    line = _one_line(capsys, ["faces", "info", str(folder)])
    assert "manifest.csv" in line and (f"line {line_no}," in line or f"csv:{line_no}:" in line)
    with pytest.raises(DataError):
        load_faces(str(folder), split=SPLIT)
    with pytest.raises(DataError):
        describe_faces(str(folder))


def test_a_list_with_a_huge_name_gives_a_manifest_cnnlab_can_read(tmp_path):
    """`faces download` writes a manifest row per list row: a 200 KB name becomes a bad row, clipped."""
    digest = "ab" * 32
    lines = [
        "\t".join(["B" * 200_000, "1", "1", "http://127.0.0.1:1/a.jpg", "0,0,9,9", digest]),
        "\t".join(["Alec Baldwin", "2", "2", "http://127.0.0.1:1/b.jpg", "0,0,9,9", digest]),
    ]
    (tmp_path / "l.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = parse_list(tmp_path / "l.txt").rows
    assert rows[0].problem == "bad_line" and "over the limit of 8,192" in rows[0].detail
    assert len(rows[0].name) == 8192 and rows[1].problem is None
