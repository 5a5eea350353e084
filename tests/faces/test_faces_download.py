"""The FaceScrub downloader against a real HTTP server on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import csv
import gc
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from cnnlab.cli.app import main
from cnnlab.core.errors import ConfigError, DataError
from cnnlab.faces import DownloadConfig, download_faces, read_manifest
from cnnlab.faces.facescrub.fetch import fetch
from faces_helpers import (
    HTML_PAGE,
    FaceServer,
    Route,
    closed_port,
    list_line,
    make_image,
    png_bomb,
    sha,
    wait_until,
    write_list,
)

# timeout: well under the stalled (4 s) and trickling routes, yet not so short that a busy CI machine,
# where the test server shares the GIL with the downloader, turns an ok answer into a timeout (at 1 s, two
# clean-clone CI runs of 2026-12-04 each saw one good row, a redirect or the oversized stream, retried once)
FAST = DownloadConfig(workers=8, timeout=2.0, retries=2, backoff=0.01, backoff_max=0.05, max_bytes=200_000)


@pytest.fixture(scope="module")
def server():
    srv = FaceServer().start()
    yield srv
    srv.stop()


def _scenario(server: FaceServer, tmp: Path) -> tuple[Path, dict[str, str], dict[str, int]]:
    """A list with one row per behaviour; returns (list, expected status per source line, attempts)."""
    jpg, png, gif = make_image(1), make_image(2, fmt="PNG"), make_image(3, fmt="GIF", mode="P")
    shared = make_image(4)
    truncated = make_image(5)[:300]
    other = make_image(6)
    refused = closed_port()
    rows = [  # (name, face_id, url, bbox, sha, expected status, expected attempts or None)
        ("Alec Baldwin", 1, server.add("/a/jpg.jpg", Route("bytes", jpg)), "10,10,40,40", sha(jpg), "ok", 1),
        ("Alec Baldwin", 2, server.add("/a/png.png", Route("bytes", png)), "0,0,64,48", sha(png), "ok", 1),
        ("Alec Baldwin", 3, server.add("/a/gif.gif", Route("bytes", gif)), "-5,-5,30,30", sha(gif), "ok", 1),
        (
            "Alec Baldwin",
            4,
            server.add("/a/redirect", Route("redirect", location="/a/jpg.jpg")),
            "1,1,9,9",
            sha(jpg),
            "ok",
            1,
        ),
        (
            "Alec Baldwin",
            5,
            server.add("/a/flaky.jpg", Route("flaky", jpg, fail_times=2)),
            "1,1,20,20",
            sha(jpg),
            "ok",
            3,
        ),
        ("Alec Baldwin", 6, server.url("/a/missing.jpg"), "1,1,20,20", sha(jpg), "http_404", 1),
        ("Alec Baldwin", 7, server.add("/a/403", Route("status", code=403)), "1,1,20,20", sha(jpg), "http_403", 1),
        ("Alec Baldwin", 8, server.add("/a/500", Route("status", code=500)), "1,1,20,20", sha(jpg), "http_500", 3),
        (
            "Bill Hader",
            10,
            server.add("/b/page.jpg", Route("bytes", HTML_PAGE)),
            "1,1,20,20",
            sha(HTML_PAGE),
            "not_image",
            1,
        ),
        (
            "Bill Hader",
            11,
            server.add("/b/changed.jpg", Route("bytes", other)),
            "1,1,20,20",
            sha(jpg),
            "hash_mismatch",
            1,
        ),
        (
            "Bill Hader",
            12,
            server.add("/b/cut.jpg", Route("bytes", truncated)),
            "1,1,20,20",
            sha(truncated),
            "truncated",
            1,
        ),
        (
            "Bill Hader",
            13,
            server.add("/b/stall", Route("stall", jpg, seconds=4.0)),
            "1,1,20,20",
            sha(jpg),
            "timeout",
            3,
        ),
        (
            "Bill Hader",
            14,
            server.add("/b/trickle", Route("trickle", jpg, seconds=0.05)),
            "1,1,20,20",
            sha(jpg),
            "timeout",
            3,
        ),
        ("Bill Hader", 15, server.add("/b/drop", Route("drop")), "1,1,20,20", sha(jpg), "connection_error", 3),
        (
            "Bill Hader",
            16,
            server.add("/b/dropmid", Route("dropmid", jpg)),
            "1,1,20,20",
            sha(jpg),
            "connection_error",
            3,
        ),
        (
            "Bill Hader",
            17,
            server.add("/b/big", Route("biglength", b"x" * 10, code=10_000_000)),
            "1,1,20,20",
            sha(jpg),
            "too_large",
            1,
        ),
        (
            "Bill Hader",
            18,
            server.add("/b/bigstream", Route("bigstream", code=300_000)),
            "1,1,20,20",
            sha(jpg),
            "too_large",
            1,
        ),
        (
            "Bill Hader",
            19,
            server.add("/b/bomb.png", Route("bytes", png_bomb())),
            "1,1,20,20",
            sha(png_bomb()),
            "decompression_bomb",
            1,
        ),
        (
            "Bill Hader",
            20,
            server.add("/b/box.jpg", Route("bytes", other)),
            "100,100,200,200",
            sha(other),
            "empty_box",
            1,
        ),
        ("Bill Hader", 21, f"http://127.0.0.1:{refused}/x.jpg", "1,1,20,20", sha(jpg), "connection_error", 1),
        ("Steve Carell", 30, server.add("/c/shared.jpg", Route("bytes", shared)), "1,1,20,20", sha(shared), "ok", 1),
        ("Steve Carell", 31, server.url("/c/shared.jpg"), "20,10,60,40", sha(shared), "ok", 1),
        ("Steve Carell", 32, "ftp://127.0.0.1/x.jpg", "1,1,20,20", sha(jpg), "bad_url", None),
        ("Steve Carell", 33, "javascript:alert(1)", "1,1,20,20", sha(jpg), "bad_url", None),
        ("Steve Carell", 34, server.url("/a/jpg.jpg"), "1,2,3", sha(jpg), "bad_bbox", None),
        ("Steve Carell", 35, server.url("/a/jpg.jpg"), "1,1,20,20", "beef", "bad_sha256", None),
        ("Steve Carell", 30, server.url("/a/png.png"), "1,1,20,20", sha(png), "duplicate", None),
        # names and URLs that try to escape the output folder
        (
            "../../evil",
            "../../../x",
            server.add("/../../etc/passwd", Route("bytes", jpg)),
            "1,1,20,20",
            sha(jpg),
            "ok",
            1,
        ),
        (
            "/abs/olute",
            "a/b\\c:d",
            server.add("/a/odd%20name.jpg?x=1&y=..", Route("bytes", png)),
            "1,1,20,20",
            sha(png),
            "ok",
            1,
        ),
    ]
    lines = [list_line(n, f, u, b, s) for n, f, u, b, s, _st, _at in rows]
    lines.append("Steve Carell\t99\t99\thttp://127.0.0.1:1/cut")  # a list cut short mid-line
    expected = {f"faces.txt:{i + 1}": st for i, (*_r, st, _at) in enumerate(rows)}
    expected[f"faces.txt:{len(rows) + 1}"] = "bad_line"
    attempts = {f"faces.txt:{i + 1}": at for i, (*_r, at) in enumerate(rows) if at is not None}
    return write_list(tmp / "faces.txt", lines), expected, attempts


def test_every_row_gets_its_exact_status(server, tmp_path):
    lst, expected, attempts = _scenario(server, tmp_path)
    out = tmp_path / "out"
    report = download_faces([lst], out, FAST)
    got = {r["source"]: r["status"] for r in report.rows}
    assert got == expected
    assert {r["source"]: int(r["attempts"]) for r in report.rows if r["source"] in attempts} == attempts
    # the manifest on disk says the same, and every ok face has all four files with the right sizes
    rows = read_manifest(out)
    assert [r["status"] for r in rows] == [expected[r["source"]] for r in rows]
    for r in rows:
        if r["status"] == "ok":
            assert sha(Path(out, r["original"]).read_bytes()) == r["expected_sha256"] == r["sha256"]
            assert Image.open(out / r["gray"]).size == (28, 28) and Image.open(out / r["gray"]).mode == "L"
            assert Image.open(out / r["rgb"]).size == (227, 227) and Image.open(out / r["rgb"]).mode == "RGB"
            x1, y1, x2, y2 = (int(v) for v in r["bbox"].split(","))
            w, h = int(r["width"]), int(r["height"])
            crop = Image.open(out / r["crop"])
            assert crop.size == (min(w, x2) - max(0, x1), min(h, y2) - max(0, y1))
    # the crop is exactly I[y1:y2, x1:x2]
    first = rows[0]
    original = Image.open(out / first["original"]).convert("RGB")
    assert Image.open(out / first["crop"]).tobytes() == original.crop((10, 10, 40, 40)).tobytes()
    # one request for the two faces of one URL; summary counts
    assert server.completed["/c/shared.jpg"] == 1
    assert report.counts["ok"] == 9 and report.by_actor()["Steve Carell"]["ok"] == 2
    # nothing outside out/, no temporary file left, only expected top-level entries
    assert not (tmp_path / "evil").exists() and not Path("/abs/olute").exists()
    for path in out.rglob("*"):
        assert path.resolve().is_relative_to(out.resolve())
        assert not path.name.startswith(".") or path.name == ".lock"
    assert {p.name for p in out.iterdir()} == {
        "originals",
        "crops",
        "gray28",
        "rgb227",
        "state",
        "manifest.csv",
        ".lock",
    }


def test_rerun_uses_no_network_for_verified_or_final_faces(server, tmp_path):
    jpgs = [make_image(100 + i) for i in range(6)]
    lines = [
        list_line("Peri Gilpin", i, server.add(f"/r/{i}.jpg", Route("bytes", d)), "2,2,30,30", sha(d))
        for i, d in enumerate(jpgs)
    ]
    lines.append(list_line("Peri Gilpin", 50, server.url("/r/none.jpg"), "2,2,30,30", sha(jpgs[0])))
    lines.append(
        list_line(
            "Peri Gilpin", 51, server.add("/r/stall", Route("stall", jpgs[0], seconds=1.0)), "2,2,30,30", sha(jpgs[0])
        )
    )
    lst = write_list(tmp_path / "l.txt", lines)
    out = tmp_path / "out"
    cfg = DownloadConfig(workers=4, timeout=0.3, retries=0, backoff=0.0)
    first = download_faces([lst], out, cfg)
    assert first.counts == {"ok": 6, "http_404": 1, "timeout": 1}
    server.reset_log()
    stamps = {p: p.stat().st_mtime_ns for p in (out / "state").rglob("*.json")}
    second = download_faces([lst], out, cfg)
    assert server.requests == ["/r/stall"]  # only the transient failure is tried again
    rewritten = [p.stem for p, t in stamps.items() if p.stat().st_mtime_ns != t]
    assert rewritten == ["51"]  # settled faces are not even rewritten
    assert second.reused == 7 and [r["status"] for r in second.rows] == [r["status"] for r in first.rows]
    # new model sizes: made locally from the originals, still no network
    server.reset_log()
    third = download_faces([lst], out, DownloadConfig(workers=4, timeout=0.3, retries=0, gray_size=32, rgb_size=64))
    assert set(server.requests) <= {"/r/stall"}
    assert third.counts["ok"] == 6 and Image.open(out / third.rows[0]["gray"]).size == (32, 32)
    # --retry-failed asks again for final failures
    server.reset_log()
    download_faces([lst], out, DownloadConfig(workers=4, timeout=0.3, retries=0, retry_failed=True))
    assert "/r/none.jpg" in server.requests and "/r/0.jpg" not in server.requests


def test_partial_and_corrupted_files_are_never_trusted(server, tmp_path):
    data = make_image(200)
    lst = write_list(
        tmp_path / "l.txt",
        [list_line("Angie Harmon", 7, server.add("/p/7.jpg", Route("bytes", data)), "0,0,30,30", sha(data))],
    )
    out = tmp_path / "out"
    # what a killed run can leave: a temporary file and a half-written original, no record
    (out / "originals" / "Angie_Harmon").mkdir(parents=True)
    (out / "originals" / "Angie_Harmon" / ".7.jpg.tmp123.jpg").write_bytes(data[:100])
    (out / "originals" / "Angie_Harmon" / "7.jpg").write_bytes(data[:100])
    server.reset_log()
    report = download_faces([lst], out, FAST)
    assert report.counts == {"ok": 1} and server.requests == ["/p/7.jpg"]
    assert (out / "originals" / "Angie_Harmon" / "7.jpg").read_bytes() == data
    assert not (out / "originals" / "Angie_Harmon" / ".7.jpg.tmp123.jpg").exists()
    # a verified record whose original was damaged later is fetched again
    (out / "originals" / "Angie_Harmon" / "7.jpg").write_bytes(b"garbage")
    server.reset_log()
    assert download_faces([lst], out, FAST).counts == {"ok": 1} and server.requests == ["/p/7.jpg"]


def test_killed_download_resumes_without_refetching_verified_faces(server, tmp_path):
    n = 40
    images = [make_image(300 + i) for i in range(n)]
    lines = [
        list_line("Lorraine Bracco", i, server.add(f"/k/{i}.jpg", Route("bytes", d, delay=0.04)), "0,0,32,32", sha(d))
        for i, d in enumerate(images)
    ]
    lst = write_list(tmp_path / "l.txt", lines)
    out = tmp_path / "out"
    server.reset_log()
    code = "import sys; from cnnlab.cli.app import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "faces",
            "download",
            "--list",
            str(lst),
            "--out",
            str(out),
            "--workers",
            "2",
            "--no-progress",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: sum(server.completed.values()) >= n // 3)
    finally:
        proc.kill()  # SIGKILL: no cleanup at all
        proc.wait()
    state = out / "state" / "Lorraine_Bracco"
    verified = {p.stem for p in state.glob("*.json") if json.loads(p.read_text())["status"] == "ok"}
    assert 0 < len(verified) < n, "the kill should land half way"
    assert not (out / "manifest.csv").exists()
    server.reset_log()
    report = download_faces([lst], out, FAST)
    refetched = {p.rsplit("/", 1)[1].removesuffix(".jpg") for p in server.requests}
    assert refetched.isdisjoint(verified)
    assert len(refetched) <= n - len(verified)
    assert report.counts == {"ok": n}
    assert all(sha((out / r["original"]).read_bytes()) == r["expected_sha256"] for r in report.rows)


def test_fetch_limits_and_bad_urls(server):
    data = make_image(400)
    url = server.add("/f/ok.jpg", Route("bytes", data))
    assert fetch(url, timeout=2).data == data
    assert fetch(url, timeout=2, max_bytes=len(data) - 1).status == "too_large"
    assert fetch(url, timeout=2, max_bytes=len(data)).status == "ok"
    loop = server.add("/f/loop", Route("redirect", location="/f/loop"))
    assert fetch(loop, timeout=2).status == "too_many_redirects"
    assert (
        fetch(server.add("/f/tofile", Route("redirect", location="file:///etc/passwd")), timeout=2).status == "bad_url"
    )
    zipped = server.add("/f/gzip", Route("gzip", data))
    assert fetch(zipped, timeout=2).data == data
    bomb = server.add("/f/gzipbomb", Route("gzip", b"\0" * 5_000_000))
    assert fetch(bomb, timeout=2, max_bytes=100_000).status == "too_large"
    slept: list[float] = []
    result = fetch(server.add("/f/500", Route("status", code=503)), retries=3, backoff=0.1, sleep=slept.append)
    assert result.status == "http_503" and result.attempts == 4
    assert len(slept) == 3 and all(0.1 * 2**i <= s <= 0.125 * 2**i + 1e-9 for i, s in enumerate(slept))


def test_config_validation_and_list_errors(tmp_path):
    with pytest.raises(ConfigError, match="workers"):
        DownloadConfig(workers=0)
    with pytest.raises(ConfigError, match="timeout"):
        DownloadConfig(timeout=-1)
    with pytest.raises(DataError, match="not found"):
        download_faces([tmp_path / "missing.txt"], tmp_path / "out")
    junk = tmp_path / "junk.txt"
    junk.write_text("hello world\nthis is not a list\n")
    with pytest.raises(DataError, match="no valid FaceScrub row"):
        download_faces([junk], tmp_path / "out")


def test_cli_download_and_info(server, tmp_path, capsys):
    data = [make_image(500 + i) for i in range(3)]
    lines = [
        list_line(name, i, server.add(f"/cli/{i}.jpg", Route("bytes", d)), "0,0,30,30", sha(d))
        for i, (name, d) in enumerate(zip(["Alec Baldwin", "Alec Baldwin", "Bill Hader"], data))
    ]
    lst = write_list(tmp_path / "l.txt", lines)
    out = tmp_path / "out"
    assert (
        main(
            [
                "faces",
                "download",
                "--list",
                str(lst),
                "--out",
                str(out),
                "--actors",
                "alec_baldwin",
                "--workers",
                "2",
                "--timeout",
                "2",
                "--max-bytes",
                "1M",
                "--no-progress",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "ok" in text and "Alec Baldwin" in text and "Bill Hader" not in text
    with open(out / "manifest.csv", newline="") as f:
        assert [r["face_id"] for r in csv.DictReader(f)] == ["0", "1"]
    assert main(["faces", "info", str(out), "--train", "1", "--min-eval", "1"]) == 0
    assert "Alec Baldwin" in capsys.readouterr().out
    assert main(["faces", "download", "--list", str(lst), "--out", str(out), "--actors", "Nobody"]) == 2
    assert "Nobody" in capsys.readouterr().err
    assert main(["faces", "download", "--list", str(tmp_path / "nope.txt"), "--out", str(out)]) == 2


def test_second_concurrent_run_is_refused(server, tmp_path):
    if os.name != "posix":
        pytest.skip("file locks are POSIX only")
    import fcntl

    data = make_image(600)
    lst = write_list(
        tmp_path / "l.txt", [list_line("A B", 1, server.add("/lock/1.jpg", Route("bytes", data)), "0,0,9,9", sha(data))]
    )
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".lock", "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        with pytest.raises(DataError, match="another"):
            download_faces([lst], out, FAST)


def test_faces_of_one_photo_are_fetched_once_and_cropped_in_parallel(server, tmp_path, monkeypatch):
    import cnnlab.faces.facescrub.download as download_module

    photo = make_image(700, size=(120, 90))
    url = server.add("/g/group.jpg", Route("bytes", photo))
    boxes = [(x, y, x + 30, y + 25) for x in (0, 20, 40, 60) for y in (0, 40)]
    lines = [list_line("Sharon Osbourne", i, url, ",".join(map(str, b)), sha(photo)) for i, b in enumerate(boxes)]
    others = [make_image(710 + i) for i in range(5)]
    lines += [
        list_line("Kelly Osbourne", 100 + i, server.add(f"/g/{i}.jpg", Route("bytes", d)), "0,0,20,20", sha(d))
        for i, d in enumerate(others)
    ]
    lines.append(list_line("Ozzy Osbourne", 200, url, "90,60,120,90", sha(photo)))  # same photo, far away
    boxes.append((90, 60, 120, 90))
    threads: dict[str, set[str]] = {}
    real_crops = download_module.make_crops

    def slow_crops(img, bbox, *args):
        threads.setdefault(img.size, set()).add(threading.current_thread().name)
        time.sleep(0.05)  # a photo with many faces: its crops should not queue behind one worker
        return real_crops(img, bbox, *args)

    monkeypatch.setattr(download_module, "make_crops", slow_crops)
    server.reset_log()
    out = tmp_path / "out"
    report = download_faces([write_list(tmp_path / "l.txt", lines)], out, DownloadConfig(workers=8, timeout=5))
    assert report.counts == {"ok": len(lines)}
    assert server.completed["/g/group.jpg"] == 1 and server.requests.count("/g/group.jpg") == 1
    assert len(threads[(120, 90)]) >= 2, "the faces of one photo were cropped one after another"
    rows = [r for r in read_manifest(out) if r["url"] == url]
    assert [r["face_id"] for r in rows] == [str(i) for i in range(8)] + ["200"]
    original = Image.open(io.BytesIO(photo)).convert("RGB")
    for r, box in zip(rows, boxes):
        assert Image.open(out / r["crop"]).tobytes() == original.crop(box).tobytes()
        assert (out / r["gray"]).is_file() and (out / r["rgb"]).is_file()
    assert report.fetched == 1 + len(others)


def _live_face_rows() -> int:
    from cnnlab.faces import FaceRow

    return sum(1 for o in gc.get_objects() if type(o) is FaceRow)


@pytest.mark.slow
def test_rows_in_memory_stay_bounded_on_long_lists(tmp_path, monkeypatch):
    """A long list streams: a bounded number of rows is alive at any time, in a first run and a resume."""
    import cnnlab.faces.facescrub.download as download_module
    from cnnlab.faces.facescrub.fetch import FetchResult

    n = 1500
    lines = [list_line(f"Actor {i % 7}", i, f"http://127.0.0.1:9/{i}.jpg", "0,0,9,9", f"{i:064x}") for i in range(n)]
    lines[10] = list_line("Actor 3", 10, "gopher://x/1", "0,0,9,9", "1" * 64)  # settled without any work
    lst = write_list(tmp_path / "long.txt", lines)
    calls: list[str] = []

    def fake_fetch(url, **_kw):
        calls.append(url)
        return FetchResult("http_404", None, 404, "HTTP 404 Not Found", 1)

    monkeypatch.setattr(download_module, "fetch", fake_fetch)

    def sample(peak: list[int], done: threading.Event) -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _live_face_rows())
            time.sleep(0.05)

    peaks = []
    for _run in range(2):
        peak, done = [0], threading.Event()
        sampler = threading.Thread(target=sample, args=(peak, done))
        sampler.start()
        try:
            report = download_faces([lst], tmp_path / "out", DownloadConfig(workers=4, timeout=1))
        finally:
            done.set()
            sampler.join()
        peaks.append(peak[0])
        assert report.counts == {"http_404": n - 1, "bad_url": 1}
    assert len(calls) == n - 1  # the second run settles every final 404 from its record
    assert max(peaks) <= 100, f"{peaks} rows alive at once for a {n}-row list"
    with open(tmp_path / "out" / "manifest.csv", newline="") as f:
        assert [r["face_id"] for r in csv.DictReader(f)] == [str(i) for i in range(n)]


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(), reason="POSIX special files")
def test_special_files_are_not_lists(tmp_path):
    fifo = tmp_path / "list.fifo"
    os.mkfifo(fifo)
    code = "import sys; from cnnlab.cli.app import main; sys.exit(main(sys.argv[1:]))"
    procs = {
        special: subprocess.Popen(
            [
                sys.executable,
                "-c",
                code,
                "faces",
                "download",
                "--list",
                str(special),
                "--out",
                str(tmp_path / "out"),
                "--no-progress",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for special in (fifo, Path("/dev/zero"))
    }  # both at once: each pays the CLI's start-up
    try:
        for special, proc in procs.items():
            _out, err = proc.communicate(timeout=60)  # before the fix: a FIFO hangs, /dev/zero eats memory
            lines = err.strip().splitlines()
            assert proc.returncode == 2 and len(lines) == 1, err[-500:]
            assert str(special) in lines[0] and "regular file" in lines[0]
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()
    assert not (tmp_path / "out").exists()
