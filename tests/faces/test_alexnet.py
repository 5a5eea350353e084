"""AlexNet: torchvision-compatible names, weight resolution (path, hub cache, loopback download), feature cache."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import io
import socket
import threading
from pathlib import Path

import pytest
import torch

from cnnlab.core.errors import CnnlabError
from cnnlab.faces.alexnet import features as FE
from cnnlab.faces.alexnet import model as A
from cnnlab.faces.alexnet import weights as W

# torchvision.models.alexnet's state dict, written out (torchvision cannot be imported here).
TORCHVISION_ALEXNET = {
    "features.0.weight": (64, 3, 11, 11),
    "features.0.bias": (64,),
    "features.3.weight": (192, 64, 5, 5),
    "features.3.bias": (192,),
    "features.6.weight": (384, 192, 3, 3),
    "features.6.bias": (384,),
    "features.8.weight": (256, 384, 3, 3),
    "features.8.bias": (256,),
    "features.10.weight": (256, 256, 3, 3),
    "features.10.bias": (256,),
    "classifier.1.weight": (4096, 9216),
    "classifier.1.bias": (4096,),
    "classifier.4.weight": (4096, 4096),
    "classifier.4.bias": (4096,),
    "classifier.6.weight": (1000, 4096),
    "classifier.6.bias": (1000,),
}


def fake_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """torchvision's names and shapes; each tensor one random value broadcast (stride 0), so files stay tiny."""
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(1, generator=g).expand(shape) for k, shape in TORCHVISION_ALEXNET.items()}


def save_bytes(sd: dict) -> bytes:
    buf = io.BytesIO()
    torch.save(sd, buf)
    return buf.getvalue()


@pytest.fixture
def hub_dir(tmp_path, monkeypatch):
    """A private torch hub dir: tests never see or touch the real one."""
    d = tmp_path / "hub"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(d))
    yield d
    torch.hub.set_dir(old)


@contextlib.contextmanager
def serve(directory: Path):
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_module_names_and_shapes_match_torchvision():
    with torch.device("meta"):
        net = A.AlexNet()
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == TORCHVISION_ALEXNET
    relus = [m for m in net.modules() if isinstance(m, torch.nn.ReLU)]
    assert len(relus) == 7 and not any(m.inplace for m in relus)


def test_torchvision_state_dict_loads_strictly(tmp_path):
    path = tmp_path / "alexnet-owt-7be5be79.pth"
    path.write_bytes(save_bytes(fake_state_dict()))
    sd, info = W.resolve_weights(str(path))
    net = A.load_alexnet(sd)
    assert torch.equal(net.classifier[1].weight, sd["classifier.1.weight"])
    assert info["pretrained"] and info["source"] == "path"
    assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert A.load_alexnet(sd, num_classes=6).classifier[6].out_features == 6


def test_wrong_shapes_and_garbage_are_one_line_errors(tmp_path):
    bad = fake_state_dict()
    bad["classifier.1.weight"] = torch.zeros(1).expand(4096, 100)
    (tmp_path / "bad.pth").write_bytes(save_bytes(bad))
    with pytest.raises(CnnlabError, match="classifier.1.weight") as e:
        W.resolve_weights(str(tmp_path / "bad.pth"))
    assert "\n" not in str(e.value)
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(CnnlabError, match="cannot read AlexNet weights"):
        W.resolve_weights(str(tmp_path / "junk.pth"))
    with pytest.raises(CnnlabError, match="not found"):
        W.resolve_weights(str(tmp_path / "missing.pth"))


def test_hub_cache_is_used_before_any_download(hub_dir):
    data = save_bytes(fake_state_dict(1))
    name = f"alexnet-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    ckpt = hub_dir / "checkpoints" / name
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(data)
    # The URL is unreachable: succeeding proves no download was attempted.
    sd, info = W.resolve_weights(None, url=f"http://127.0.0.1:{closed_port()}/{name}")
    assert info["source"] == "hub-cache" and info["path"] == str(ckpt)
    assert torch.equal(sd["features.0.bias"], fake_state_dict(1)["features.0.bias"])


def test_hub_cache_copy_must_match_its_hash(hub_dir):
    # A file under the official name whose bytes are not the official ones: refused, not trusted.
    ckpt = hub_dir / "checkpoints" / A.WEIGHTS_FILENAME
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(save_bytes(fake_state_dict(1)))
    with pytest.raises(CnnlabError, match="does not match the SHA-256 prefix 7be5be79"):
        W.resolve_weights(None, url=f"http://127.0.0.1:{closed_port()}/{A.WEIGHTS_FILENAME}")


def test_download_checks_hash_and_caches(hub_dir, tmp_path):
    data = save_bytes(fake_state_dict(2))
    digest = hashlib.sha256(data).hexdigest()
    served = tmp_path / "served"
    served.mkdir()
    good = f"alexnet-{digest[:8]}.pth"
    (served / good).write_bytes(data)
    wrong = "alexnet-00000000.pth" if not digest.startswith("00000000") else "alexnet-11111111.pth"
    (served / wrong).write_bytes(data)
    with serve(served) as base:
        sd, info = W.resolve_weights(None, hub_dir=hub_dir, url=f"{base}/{good}")
        assert info["source"].startswith("download:") and info["sha256"] == digest
        assert (hub_dir / "checkpoints" / good).read_bytes() == data
        assert torch.equal(sd["classifier.6.bias"], fake_state_dict(2)["classifier.6.bias"])
        with pytest.raises(CnnlabError, match="failed the hash check"):
            W.resolve_weights(None, hub_dir=hub_dir, url=f"{base}/{wrong}")
        assert not (hub_dir / "checkpoints" / wrong).exists()
        assert not list((hub_dir / "checkpoints").glob("*.partial"))
        with pytest.raises(CnnlabError, match="HTTP 404"):
            W.resolve_weights(None, hub_dir=hub_dir, url=f"{base}/alexnet-12345678.pth")


def test_offline_error_says_how_to_get_weights(hub_dir):
    with pytest.raises(CnnlabError) as e:
        W.resolve_weights(None, url=f"http://127.0.0.1:{closed_port()}/{A.WEIGHTS_FILENAME}", timeout=5)
    msg = str(e.value)
    assert msg.startswith("AlexNet ImageNet weights not found: pass --weights PATH")
    assert str(hub_dir / "checkpoints") in msg and "--weights random" in msg and "\n" not in msg
    assert not list(hub_dir.rglob("*.pth"))


def test_random_weights_are_labelled_and_deterministic():
    sd1, info1 = W.resolve_weights("random")
    sd2, info2 = W.resolve_weights("random")
    assert info1["pretrained"] is False and info1["label"] == "untrained AlexNet"
    assert info1["sha256"] == info2["sha256"] == W.state_dict_hash(sd2)
    assert torch.equal(sd1["features.0.weight"], sd2["features.0.weight"])


@pytest.mark.parametrize("layer", ["conv4", "pool5", "fc6"])
def test_trunk_matches_full_network(layer):
    torch.manual_seed(0)
    net = A.AlexNet().eval()
    trunk = A.AlexNetTrunk(layer, init=False)
    trunk.load_from_alexnet(net.state_dict())
    trunk.eval()
    x = torch.rand(2, 3, 67, 67)  # the adaptive avgpool admits inputs down to 63x63
    with torch.no_grad():
        h = net.features(x)
        ref = {
            "conv4": net.features[:10](x).flatten(1),
            "pool5": net.avgpool(h).flatten(1),
            "fc6": net.classifier[:3](net.avgpool(h).flatten(1)),
        }[layer]
        assert torch.allclose(trunk(x), ref, atol=1e-5)
    assert A.feature_shape("conv4") == (256, 13, 13)


def test_feature_cache_reused_and_invalidated(tmp_path):
    torch.manual_seed(0)
    sd = A.AlexNetTrunk("conv4").state_dict()
    x = torch.rand(3, 3, 67, 67)
    kw = dict(layer="conv4", cache_dir=tmp_path, batch_size=2)
    first = FE.cached_features(x, state_dict=sd, weights_sha256="w1", **kw)
    assert not first.hit and first.features.shape == (3, 256 * 3 * 3) and first.path.is_file()
    again = FE.cached_features(x, state_dict=sd, weights_sha256="w1", **kw)
    assert again.hit and torch.equal(again.features, first.features)
    # New weights: a new key, recomputed with the new weights.
    sd["features.0.weight"] = sd["features.0.weight"] * 2
    changed = FE.cached_features(x, state_dict=sd, weights_sha256="w2", **kw)
    assert not changed.hit and changed.path != first.path
    assert not torch.allclose(changed.features, first.features)
    # Other images or another layer: also new keys.
    assert not FE.cached_features(x[:2], state_dict=sd, weights_sha256="w2", **kw).hit
    assert not FE.cached_features(x, state_dict=sd, weights_sha256="w2", layer="conv3", cache_dir=tmp_path).hit
    # A damaged cache file is recomputed, not trusted.
    changed.path.write_bytes(b"garbage")
    again = FE.cached_features(x, state_dict=sd, weights_sha256="w2", **kw)
    assert not again.hit and torch.allclose(again.features, changed.features)


def test_extract_features_is_batch_independent():
    trunk = A.AlexNetTrunk("conv4")
    x = torch.rand(5, 3, 67, 67)
    a = FE.extract_features(trunk, x, batch_size=5)
    b = FE.extract_features(trunk, x, batch_size=2, channels_last=True)
    assert torch.allclose(a, b, atol=1e-5)
    with pytest.raises(CnnlabError):
        FE.extract_features(trunk, torch.rand(2, 1, 67, 67))
