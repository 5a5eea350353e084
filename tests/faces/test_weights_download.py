"""--weights-url as untrusted input (issue 30, item 1): http(s) only, the SHA-256 prefix in the file name
required before any byte is written, a byte cap while streaming, a temporary file renamed only after the
hash matched. Against a real server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io

import pytest
import torch

from cnnlab.cli.app import main
from cnnlab.core.errors import CnnlabError
from cnnlab.faces.alexnet import weights as W
from faces_helpers import FaceServer, Route, fails_after

CAP = 1 << 20  # the tests' byte cap: an endless body stops after 1 MiB, not 512


@pytest.fixture
def server():
    srv = FaceServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def small_cap(monkeypatch):
    monkeypatch.setattr(W, "MAX_DOWNLOAD_BYTES", CAP)


def _one_line_exit_2(capsys, argv: list[str]) -> str:
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("cnnlab: error: "), err
    return err[0]


def _features(tmp_path, url: str) -> list[str]:
    return ["part2", "features", "--hub-dir", str(tmp_path / "hub"), "--weights-url", url, "--out", str(tmp_path)]


def _left_in(tmp_path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "hub").rglob("*") if p.is_file())


def test_endless_body_stops_at_the_cap_with_one_line(tmp_path, capsys, server, small_cap):
    url = server.add("/alexnet-owt-0123abcd.pth", Route("bigstream", code=10**12))  # no Content-Length, endless
    with fails_after(20):
        line = _one_line_exit_2(capsys, _features(tmp_path, url))
    assert f"stopped at the limit of {CAP:,} bytes" in line and "nothing was kept" in line
    assert _left_in(tmp_path) == []  # neither the target nor the temporary file


def test_wrong_hash_keeps_nothing(tmp_path, capsys, server):
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(3)}, buf)
    digest = hashlib.sha256(buf.getvalue()).hexdigest()
    wrong = "0123abcd" if not digest.startswith("0123abcd") else "fedcba98"
    url = server.add(f"/alexnet-owt-{wrong}.pth", Route("bytes", data=buf.getvalue()))
    line = _one_line_exit_2(capsys, _features(tmp_path, url))
    assert "failed the hash check" in line and f"the name says {wrong}" in line
    assert server.requests == [f"/alexnet-owt-{wrong}.pth"] and _left_in(tmp_path) == []


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://127.0.0.1/alexnet-owt-7be5be79.pth", "file:///tmp/alexnet-owt-7be5be79.pth"],
)
def test_only_http_and_https(tmp_path, capsys, url):
    line = _one_line_exit_2(capsys, _features(tmp_path, url))
    assert "unsupported URL scheme" in line and "only http and https" in line
    assert _left_in(tmp_path) == []


def test_a_redirect_to_file_is_refused(tmp_path, capsys, server):
    url = server.add("/alexnet-owt-0123abcd.pth", Route("redirect", location="file:///etc/passwd"))
    line = _one_line_exit_2(capsys, _features(tmp_path, url))
    assert "unsupported URL scheme 'file'" in line and _left_in(tmp_path) == []


@pytest.mark.parametrize("name", ["alexnet.pth", "weights", "alexnet-owt-xyz.pth", "alexnet-1234.pth", ""])
def test_a_name_without_the_hash_prefix_is_refused_before_any_request(tmp_path, capsys, server, name):
    url = server.add(f"/{name}", Route("bytes", data=b"x" * 100))
    line = _one_line_exit_2(capsys, _features(tmp_path, url))
    assert "must name a file that carries its SHA-256 prefix" in line
    assert server.requests == [] and _left_in(tmp_path) == []


def test_the_password_of_a_url_is_not_shown(tmp_path):
    with pytest.raises(CnnlabError) as e:
        W.resolve_weights(None, hub_dir=tmp_path / "hub", url="http://me:s3cret@127.0.0.1:1/alexnet.pth")
    assert "s3cret" not in str(e.value) and "***@127.0.0.1:1" in str(e.value)


def test_a_checked_download_is_renamed_into_place(tmp_path, server):
    buf = io.BytesIO()
    torch.save({"features.0.bias": torch.ones(64)}, buf)  # not AlexNet: read after the rename, then removed
    digest = hashlib.sha256(buf.getvalue()).hexdigest()
    url = server.add(f"/alexnet-owt-{digest[:8]}.pth", Route("bytes", data=buf.getvalue()))
    with pytest.raises(CnnlabError, match="weights do not fit"):
        W.resolve_weights(None, hub_dir=tmp_path / "hub", url=url)
    assert _left_in(tmp_path) == []  # an unusable file is not left to be found in the cache next time
