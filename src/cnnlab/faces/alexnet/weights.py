"""Where AlexNet's ImageNet weights come from: a path, the torch hub cache, or a checked download.

Order: an explicit path; <hub dir>/checkpoints/<file name of the URL>; a download from the official
URL with torch.hub's `check_hash=True` (the file name carries the SHA-256 prefix). `"random"` gives a
seeded, untrained AlexNet whose provenance says "untrained AlexNet". No weights and no network: one
line saying how to get them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import socket
import urllib.error
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cnnlab.core.errors import CnnlabError, first_line
from cnnlab.core.io import sha256_file
from cnnlab.core.runs.state_dicts import load_weights
from cnnlab.faces.alexnet.model import OFFICIAL_URL, UNTRAINED_LABEL, WEIGHTS_FILENAME, AlexNet, check_shapes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WeightsInfo:
    """Where AlexNet weights came from; `sha256` identifies them (file hash, or content hash for random)."""

    pretrained: bool
    source: str
    sha256: str
    path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d = {"pretrained": self.pretrained, "source": self.source, "sha256": self.sha256, "path": self.path}
        d["label"] = "ImageNet-pretrained AlexNet" if self.pretrained else UNTRAINED_LABEL
        return d


def hub_checkpoint_dir(hub_dir: str | os.PathLike | None = None) -> Path:
    """<hub dir>/checkpoints, where torch.hub keeps downloaded weights."""
    return Path(hub_dir if hub_dir is not None else torch.hub.get_dir()) / "checkpoints"


def offline_message(hub_dir: str | os.PathLike | None = None) -> str:
    where = hub_checkpoint_dir(hub_dir)
    return (
        f"AlexNet ImageNet weights not found: pass --weights PATH to {WEIGHTS_FILENAME}, put it in {where}/, "
        "or use --weights random for an untrained AlexNet"
    )


def state_dict_hash(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 over key names, shapes, dtypes and bytes, in key order."""
    h = hashlib.sha256()
    for k in sorted(state_dict):
        t = state_dict[k].detach().cpu().contiguous()
        h.update(f"{k}|{tuple(t.shape)}|{t.dtype}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def random_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """torch's default initialisation of AlexNet under a fixed seed (an untrained AlexNet)."""
    gen_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return AlexNet().state_dict()
    finally:
        torch.random.set_rng_state(gen_state)


def _read_weights_file(path: Path) -> dict[str, torch.Tensor]:
    try:
        obj = load_weights(path)
    except Exception as exc:  # a truncated or non-torch file: say which one, no traceback
        raise CnnlabError(f"cannot read AlexNet weights {path}: {first_line(exc, 120, with_type=True)}") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CnnlabError(f"{path} is not an AlexNet state dict")
    check_shapes(obj)
    return obj


def _name_hash_prefix(filename: str) -> str | None:
    """The SHA-256 prefix torch.hub's naming convention puts in a file name (alexnet-owt-7be5be79.pth -> 7be5be79)."""
    m = torch.hub.HASH_REGEX.search(filename)
    return m.group(1) if m and len(m.group(1)) >= 8 else None


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    # torch.hub's urlopen has no timeout argument; a silent server would otherwise hang forever.
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def resolve_weights(
    spec: str | os.PathLike | None,
    *,
    hub_dir: str | os.PathLike | None = None,
    url: str = OFFICIAL_URL,
    progress: bool = False,
    timeout: float = 30.0,
    seed: int = 0,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """AlexNet weights and their provenance.

    spec: a path to a state dict; "random" (seeded torch default init, labelled "untrained AlexNet");
    None: the hub cache (<hub dir>/checkpoints/<file name of url>), else a download from `url` with
    `check_hash=True` (the file name carries the SHA-256 prefix). No weights and no network: a
    one-line CnnlabError saying how to get them.
    """
    if spec is not None and str(spec) == "random":
        sd = random_state_dict(seed)
        info = WeightsInfo(False, f"random (torch default init, seed {seed})", state_dict_hash(sd))
        log.warning("using an %s (random weights, seed %d)", UNTRAINED_LABEL, seed)
        return sd, info.as_dict()
    if spec is not None:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise CnnlabError(f"AlexNet weights file not found: {path}")
        sd = _read_weights_file(path)
        sha = sha256_file(path)
        prefix = _name_hash_prefix(path.name)
        if prefix and not sha.startswith(prefix):
            log.warning(
                "%s: SHA-256 %s... does not start with %s from its name: not the official file?", path, sha[:12], prefix
            )
        return sd, WeightsInfo(True, "path", sha, str(path)).as_dict()

    filename = os.path.basename(urllib.parse.urlparse(url).path) or WEIGHTS_FILENAME
    cached = hub_checkpoint_dir(hub_dir) / filename
    if cached.is_file():
        # torch.hub checks the hash only while downloading; check the cached copy too.
        sha = sha256_file(cached)
        prefix = _name_hash_prefix(filename)
        if prefix and not sha.startswith(prefix):
            raise CnnlabError(
                f"{cached} does not match the SHA-256 prefix {prefix} in its name (corrupt or not the "
                "official file): delete it, or pass --weights PATH"
            )
        sd = _read_weights_file(cached)
        return sd, WeightsInfo(True, "hub-cache", sha, str(cached)).as_dict()

    model_dir = hub_checkpoint_dir(hub_dir)
    log.debug("downloading AlexNet weights from %s to %s", url, model_dir)
    try:
        # torch.hub announces downloads on stdout: keep stdout for command output, and a failure to one
        # line (the progress bar, when asked for, goes to stderr).
        with _socket_timeout(timeout), contextlib.redirect_stdout(io.StringIO()):
            torch.hub.load_state_dict_from_url(
                url,
                model_dir=str(model_dir),
                map_location="cpu",
                progress=progress,
                check_hash=True,
                weights_only=True,
            )
    except urllib.error.HTTPError as exc:
        raise CnnlabError(f"{offline_message(hub_dir)} (download failed: HTTP {exc.code} from {url})") from None
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CnnlabError(f"{offline_message(hub_dir)} (no network: {reason})") from None
    except RuntimeError as exc:
        if "invalid hash value" in str(exc):
            raise CnnlabError(
                f"downloaded AlexNet weights from {url} failed the hash check; nothing was kept"
            ) from None
        raise CnnlabError(f"downloaded AlexNet weights from {url} are unreadable: {first_line(exc, 120)}") from None
    except Exception as exc:  # e.g. an unpickling error on a file whose hash prefix happens to match
        with contextlib.suppress(FileNotFoundError):
            cached.unlink()
        raise CnnlabError(f"downloaded AlexNet weights from {url} are unreadable: {type(exc).__name__}") from None
    try:
        sd = _read_weights_file(cached)
    except CnnlabError:
        with contextlib.suppress(FileNotFoundError):
            cached.unlink()  # don't leave a file that would be picked up from the cache next time
        raise
    return sd, WeightsInfo(True, f"download:{url}", sha256_file(cached), str(cached)).as_dict()
