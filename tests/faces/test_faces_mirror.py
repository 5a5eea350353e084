"""Integration: the 1,649 real FaceScrub rows of ../shared/data/facescrub/mirror over loopback."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import torch

from cnnlab.faces import COURSE_ACTORS, DownloadConfig, FaceSplitConfig, download_faces, load_faces
from faces_helpers import serve_directory

MIRROR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "facescrub" / "mirror"
KIND_TO_STATUS = {
    "hash_mismatch": "hash_mismatch",
    "not_found": "http_404",
    "html_page": "not_image",
    "truncated": "truncated",
    "connection_refused": "connection_error",
}

pytestmark = pytest.mark.skipif(not MIRROR.is_dir(), reason="../shared is absent")


@pytest.fixture(scope="module")
def mirror_download(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mirror")
    httpd, port = serve_directory(MIRROR / "files")
    text = (MIRROR / "mirror_list.txt").read_text(encoding="utf-8")
    lst = tmp / "mirror_list.txt"
    lst.write_text(text.replace("http://127.0.0.1:8000/", f"http://127.0.0.1:{port}/"), encoding="utf-8")
    try:
        # 64x64 RGB copies instead of 227x227 keep this test quick (the default sizes are tested elsewhere
        # and benchmarked in bench/bench_faces_download.py)
        cfg = DownloadConfig(workers=8, timeout=10, retries=1, backoff=0.05, rgb_size=64)
        report = download_faces([lst], tmp / "out", cfg)
    finally:
        httpd.shutdown()
        httpd.server_close()
    return report, json.loads((MIRROR / "expected.json").read_text())


@pytest.mark.slow
def test_mirror_statuses_match_expected(mirror_download):
    report, expected = mirror_download
    assert len(report.rows) == expected["rows"]
    want = Counter({"ok": expected["ok"]})
    want.update({KIND_TO_STATUS[k]: len(ids) for k, ids in expected["faults_by_face_id"].items()})
    assert report.counts == want
    by_id = {int(r["face_id"]): r["status"] for r in report.rows}
    for kind, ids in expected["faults_by_face_id"].items():
        assert {by_id[i] for i in ids} == {KIND_TO_STATUS[kind]}, kind
    ok = [r for r in report.rows if r["status"] == "ok"]
    assert all(r["sha256"] == r["expected_sha256"] for r in ok)
    assert all((report.out_dir / r["gray"]).is_file() and (report.out_dir / r["rgb"]).is_file() for r in ok)


def test_mirror_course_actors_load(mirror_download):
    report, _ = mirror_download
    data = load_faces(str(report.out_dir), actors=COURSE_ACTORS, split=FaceSplitConfig())
    assert data.class_names == COURSE_ACTORS
    usable = Counter(r["actor"] for r in report.rows if r["status"] == "ok")
    for name in COURSE_ACTORS:
        n = usable[name]
        tr, va, te = data.counts[name]
        assert tr == 70 and va + te == n - 70 and 0 <= te - va <= 1  # the handout's split: the rest halved
    assert data.counts["Peri Gilpin"] == (70, 7, 7)  # 87 rows, 3 broken: 84 usable
    assert data.train_x.shape == (420, 1, 28, 28) and torch.bincount(data.train_y).tolist() == [70] * 6
